package traces

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Query is Zipkin's QueryRequest. Durations are microseconds, EndTs and
// Lookback milliseconds (as in the API).
type Query struct {
	ServiceName       string
	RemoteServiceName string
	SpanName          string
	AnnotationQuery   map[string]string // key -> value; "" means "key present" (or an annotation)
	MinDuration       int64
	MaxDuration       int64
	EndTs             int64
	Lookback          int64
	Limit             int
}

// ParseAnnotationQuery reads Zipkin's annotationQuery: terms joined by
// " and ", each `key` (a tag key or annotation value) or `key=value`.
func ParseAnnotationQuery(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	pos := 0
	for _, term := range strings.Split(s, " and ") {
		t := strings.TrimSpace(term)
		if t == "" {
			return nil, fmt.Errorf("annotationQuery: empty term at position %d (terms are joined by \" and \")", pos)
		}
		k, v, hasEq := strings.Cut(t, "=")
		if hasEq && k == "" {
			return nil, fmt.Errorf("annotationQuery: term %q at position %d has no key", t, pos)
		}
		out[k] = v
		pos += len(term) + len(" and ")
	}
	return out, nil
}

// compiled is a Query prepared for scanning many traces.
type compiled struct {
	*Query
	want    []string // "key" or "key=value" per annotation query term
	svcBit  uint64   // 0 when the service cannot be tested by mask
	unknown bool     // the service has never been seen: nothing matches
}

func (s *Store) compile(q *Query) *compiled {
	c := &compiled{Query: q}
	for k, v := range q.AnnotationQuery {
		if v == "" {
			c.want = append(c.want, k)
		} else {
			c.want = append(c.want, k+"="+v)
		}
	}
	if q.ServiceName != "" {
		n, ok := s.svcNum[q.ServiceName]
		switch {
		case !ok:
			c.unknown = true
		case n < 64:
			c.svcBit = 1 << uint(n)
		}
	}
	return c
}

// test is Zipkin's QueryRequest.test: the service name, when given,
// constrains which spans the other criteria look at.
func (q *compiled) test(t *trace) bool {
	if t.start == 0 || t.start < (q.EndTs-q.Lookback)*1000 || t.start > q.EndTs*1000 {
		return false
	}
	if q.unknown || (q.svcBit != 0 && t.svcMask&q.svcBit == 0) {
		return false
	}
	svcOK := q.ServiceName == ""
	remoteOK := q.RemoteServiceName == ""
	nameOK := q.SpanName == ""
	durOK := q.MinDuration == 0 && q.MaxDuration == 0
	remaining := len(q.want)
	var matched uint64 // bit i: want[i] found (terms beyond 64 are ignored)
	for i := range t.spans {
		sp := &t.spans[i]
		if q.ServiceName != "" && sp.service != q.ServiceName {
			continue
		}
		svcOK = true
		if !remoteOK && sp.remote == q.RemoteServiceName {
			remoteOK = true
		}
		if !nameOK && sp.name == q.SpanName {
			nameOK = true
		}
		if !durOK && sp.dur >= q.MinDuration && (q.MaxDuration == 0 || sp.dur <= q.MaxDuration) {
			durOK = true
		}
		if remaining > 0 {
			for wi, want := range q.want {
				if wi >= 64 || matched&(1<<uint(wi)) != 0 {
					continue
				}
				for _, tag := range sp.tags {
					if tag == want {
						matched |= 1 << uint(wi)
						remaining--
						break
					}
				}
			}
		}
	}
	return svcOK && remoteOK && nameOK && durOK && remaining == 0
}

// Search returns matching traces, newest first, each as its spans' JSON.
func (s *Store) Search(q Query) ([][]json.RawMessage, error) {
	if q.EndTs == 0 {
		q.EndTs = time.Now().UnixMilli()
	}
	if q.Lookback == 0 {
		q.Lookback = q.EndTs // everything before endTs
	}
	if q.Limit <= 0 {
		q.Limit = 10
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.compile(&q)
	var hits []*trace
	for _, t := range s.order {
		if c.test(t) {
			hits = append(hits, t)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].start != hits[j].start {
			return hits[i].start > hits[j].start
		}
		return hits[i].low > hits[j].low
	})
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	out := make([][]json.RawMessage, 0, len(hits))
	for _, t := range hits {
		refs := make([]spanRef, len(t.spans))
		for i, sp := range t.spans {
			refs[i] = sp.ref
		}
		spans, err := s.read(refs)
		if err != nil {
			return nil, err
		}
		out = append(out, spans)
	}
	return out, nil
}

func (s *Store) distinct(pick func(*spanInfo) string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := map[string]bool{}
	for _, t := range s.traces {
		for i := range t.spans {
			if v := pick(&t.spans[i]); v != "" {
				set[v] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Services lists local service names.
func (s *Store) Services() []string {
	return s.distinct(func(sp *spanInfo) string { return sp.service })
}

// SpanNames lists the span names of a service.
func (s *Store) SpanNames(service string) []string {
	return s.distinct(func(sp *spanInfo) string {
		if sp.service == service {
			return sp.name
		}
		return ""
	})
}

// RemoteServices lists the remote services a service called.
func (s *Store) RemoteServices(service string) []string {
	return s.distinct(func(sp *spanInfo) string {
		if sp.service == service {
			return sp.remote
		}
		return ""
	})
}

// tagSet collects, sorted, what pick takes from every "key=value" tag.
func (s *Store) tagSet(pick func(tag string) (string, bool)) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	set := map[string]bool{}
	for _, t := range s.order {
		for i := range t.spans {
			for _, tag := range t.spans[i].tags {
				if v, ok := pick(tag); ok {
					set[v] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// TagKeys lists the tag keys seen (autocompleteKeys).
func (s *Store) TagKeys() []string {
	return s.tagSet(func(tag string) (string, bool) {
		k, _, ok := strings.Cut(tag, "=")
		return k, ok
	})
}

// TagValues lists the values of one tag key (autocompleteValues).
func (s *Store) TagValues(key string) []string {
	return s.tagSet(func(tag string) (string, bool) { return strings.CutPrefix(tag, key+"=") })
}

// DependencyLink is Zipkin's link between two services.
type DependencyLink struct {
	Parent     string `json:"parent"`
	Child      string `json:"child"`
	CallCount  int64  `json:"callCount"`
	ErrorCount int64  `json:"errorCount,omitempty"`
}

// Dependencies derives service links from the traces that started in
// [endTs-lookback, endTs] (milliseconds), the way Zipkin's DependencyLinker
// does: a SERVER (or CONSUMER) span links its caller to its service; a
// CLIENT (or PRODUCER) span whose callee reported nothing links to its
// remote service. Errors count spans with an "error" tag.
func (s *Store) Dependencies(endTs, lookback int64) []DependencyLink {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type key struct{ p, c string }
	links := map[key]*DependencyLink{}
	add := func(p, c string, isErr bool) {
		if p == "" || c == "" || p == c {
			return
		}
		l := links[key{p, c}]
		if l == nil {
			l = &DependencyLink{Parent: p, Child: c}
			links[key{p, c}] = l
		}
		l.CallCount++
		if isErr {
			l.ErrorCount++
		}
	}
	for _, t := range s.traces {
		if t.start < (endTs-lookback)*1000 || t.start > endTs*1000 {
			continue
		}
		byID := map[uint64][]*spanInfo{}
		for i := range t.spans {
			byID[t.spans[i].id] = append(byID[t.spans[i].id], &t.spans[i])
		}
		// serviceOf finds the nearest ancestor's service (a span's parent
		// may be the client half sharing the parent's id).
		serviceOf := func(id uint64, exclude string) string {
			for depth := 0; id != 0 && depth < 64; depth++ {
				for _, sp := range byID[id] {
					if sp.service != "" && (sp.kind == "CLIENT" || sp.kind == "PRODUCER" || sp.service != exclude) {
						return sp.service
					}
				}
				var next uint64
				for _, sp := range byID[id] {
					next = sp.parent
				}
				id = next
			}
			return ""
		}
		for i := range t.spans {
			sp := &t.spans[i]
			switch sp.kind {
			case "SERVER", "CONSUMER":
				caller := ""
				// The client half of a shared span carries the caller.
				for _, other := range byID[sp.id] {
					if other != sp && (other.kind == "CLIENT" || other.kind == "PRODUCER") {
						caller = other.service
					}
				}
				if caller == "" && sp.parent != 0 {
					caller = serviceOf(sp.parent, sp.service)
				}
				if caller == "" {
					caller = sp.remote
				}
				add(caller, sp.service, sp.errorTag)
			case "CLIENT", "PRODUCER":
				answered := false
				for _, other := range byID[sp.id] {
					if other != sp && (other.kind == "SERVER" || other.kind == "CONSUMER") {
						answered = true
					}
				}
				for j := range t.spans {
					c := &t.spans[j]
					if c.parent == sp.id && (c.kind == "SERVER" || c.kind == "CONSUMER") {
						answered = true
					}
				}
				if !answered {
					add(sp.service, sp.remote, sp.errorTag)
				}
			}
		}
	}
	out := make([]DependencyLink, 0, len(links))
	for _, l := range links {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Parent != out[j].Parent {
			return out[i].Parent < out[j].Parent
		}
		return out[i].Child < out[j].Child
	})
	return out
}
