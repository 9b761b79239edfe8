package traces

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/openzipkin/zipkin-go/model"
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

// ParseAnnotationQuery reads Zipkin's annotationQuery as
// QueryRequest.parseAnnotationQuery does: terms joined by " and ", each
// trimmed; `key=value` matches a tag, `key` a tag key or an annotation; a
// tag term wins over a bare term of the same key, and the last tag term of
// a key wins. Unlike Zipkin, which silently matches nothing, an empty term
// or a term with no key is an error that says where it is.
func ParseAnnotationQuery(s string) (map[string]string, error) {
	out := map[string]string{}
	if s == "" {
		return out, nil
	}
	pos := 0
	for _, term := range strings.Split(s, " and ") {
		k, v, hasEq := strings.Cut(term, "=")
		k = strings.TrimSpace(k)
		switch {
		case k == "" && !hasEq:
			return nil, fmt.Errorf("annotationQuery: empty term at position %d (terms are joined by \" and \")", pos)
		case k == "":
			return nil, fmt.Errorf("annotationQuery: term %q at position %d has no key", term, pos)
		case hasEq:
			out[k] = strings.TrimSpace(v)
		default:
			if _, ok := out[k]; !ok {
				out[k] = ""
			}
		}
		pos += len(term) + len(" and ")
	}
	return out, nil
}

// test is QueryRequest.test over one trace's spans: the trace's timestamp
// (its root's, else its earliest) must be in the window, and the service
// name, when given, constrains which spans the other criteria look at.
func (q *Query) test(rows []row) bool {
	ts := traceTS(rows)
	if ts == 0 || ts < (q.EndTs-q.Lookback)*1000 || ts > q.EndTs*1000 {
		return false
	}
	durOK := q.MinDuration == 0 && q.MaxDuration == 0
	svcOK := q.ServiceName == ""
	remoteOK := q.RemoteServiceName == ""
	nameOK := q.SpanName == ""
	remaining := len(q.AnnotationQuery)
	var matched map[string]bool
	if remaining > 0 {
		matched = make(map[string]bool, remaining)
	}
	for i := range rows {
		r := &rows[i]
		if q.ServiceName != "" && q.ServiceName != r.Local.Service {
			continue
		}
		svcOK = true
		if remaining > 0 {
			for _, a := range r.Annos {
				if v, ok := q.AnnotationQuery[a]; ok && v == "" && !matched[a] {
					matched[a] = true
					remaining--
				}
			}
			for j, k := range r.TagK {
				if v, ok := q.AnnotationQuery[k]; ok && !matched[k] && (v == "" || v == r.TagV[j]) {
					matched[k] = true
					remaining--
				}
			}
		}
		if !remoteOK && r.Remote == q.RemoteServiceName {
			remoteOK = true
		}
		if !nameOK && r.Name == q.SpanName {
			nameOK = true
		}
		if !durOK && q.durationOK(r.Dur) {
			durOK = true
		}
	}
	return svcOK && remoteOK && nameOK && remaining == 0 && durOK
}

func (q *Query) durationOK(d int64) bool {
	if q.MaxDuration > 0 {
		return d >= q.MinDuration && d <= q.MaxDuration
	}
	return d >= q.MinDuration
}

// candidate says whether a span may be the one that puts its trace in the
// results: of the query's service (when given) and matching at least one
// other criterion (when there is one). Every matching trace has such a
// span, so searches assemble only the traces of candidate spans.
func (q *Query) candidate(r *row) bool {
	if q.ServiceName != "" && r.Local.Service != q.ServiceName {
		return false
	}
	other := false
	if q.SpanName != "" {
		if r.Name == q.SpanName {
			return true
		}
		other = true
	}
	if q.RemoteServiceName != "" {
		if r.Remote == q.RemoteServiceName {
			return true
		}
		other = true
	}
	if q.MinDuration > 0 || q.MaxDuration > 0 {
		if q.durationOK(r.Dur) {
			return true
		}
		other = true
	}
	if len(q.AnnotationQuery) > 0 {
		for j, k := range r.TagK {
			if v, ok := q.AnnotationQuery[k]; ok && (v == "" || v == r.TagV[j]) {
				return true
			}
		}
		for _, a := range r.Annos {
			if v, ok := q.AnnotationQuery[a]; ok && v == "" {
				return true
			}
		}
		other = true
	}
	return !other
}

// blockMay says from a block's summary whether it may hold a candidate.
func (q *Query) blockMay(b *blockMeta) bool {
	if q.ServiceName != "" && !b.hasService(q.ServiceName) {
		return false
	}
	if q.MinDuration > 0 || q.MaxDuration > 0 {
		return true // durations are not in the summary
	}
	other := false
	if q.SpanName != "" {
		if b.tokens.has(tokenHash(tokName, q.SpanName)) {
			return true
		}
		other = true
	}
	if q.RemoteServiceName != "" {
		if b.tokens.has(tokenHash(tokRemote, q.RemoteServiceName)) {
			return true
		}
		other = true
	}
	for k, v := range q.AnnotationQuery {
		h := tokenHash(tokKey, k)
		if v != "" {
			h = tokenHashKV(k, v)
		}
		if b.tokens.has(h) {
			return true
		}
		other = true
	}
	return !other
}

// hit is one stored span of a trace, with where its JSON is.
type hit struct {
	r *row
	p *partition
	b *blockMeta
	d *decoded // nil: a head row, whose JSON is r.JSON
	i int
}

// traceHits finds every stored span whose trace id has these low 64 bits,
// in arrival order: in each partition, the trace map and index runs say
// which blocks to read.
//
// With before set, only spans stored before that seq are wanted, and
// blocks written later are not read (the dependency linker asks whether a
// trace has earlier spans, and almost never has).
func (s *Store) traceHits(lo, before uint64) ([]hit, error) {
	var out []hit
	var errs []error
	for _, p := range s.partitionList() {
		p.io.RLock()
		p.mu.RLock()
		head, sealing, blocks, runs := p.head, p.sealing, p.blocks, p.runs
		cand := make([]int, 0, 4)
		for _, b := range p.loose[lo] {
			cand = append(cand, int(b))
		}
		p.mu.RUnlock()
		var err error
		if p.f == nil {
			err = errPartitionGone
		}
		for _, ix := range runs {
			if err == nil {
				cand, err = ix.lookup(lo, cand)
			}
		}
		p.io.RUnlock()
		if errors.Is(err, errPartitionGone) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
		}
		for _, j := range cand {
			b := blocks[j]
			if before != 0 && b.firstSeq >= before {
				continue
			}
			d, err := s.rowsOf(p, b)
			if err != nil {
				if !errors.Is(err, errPartitionGone) {
					errs = append(errs, err)
				}
				continue
			}
			for i := range d.rows {
				if d.rows[i].TraceLo == lo && (before == 0 || d.rows[i].Seq < before) {
					out = append(out, hit{r: &d.rows[i], p: p, b: b, d: d, i: i})
				}
			}
		}
		for _, h := range [][]row{sealing, head} {
			for i := range h {
				if h[i].TraceLo == lo && (before == 0 || h[i].Seq < before) {
					out = append(out, hit{r: &h[i]})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b hit) int { return cmp.Compare(a.r.Seq, b.r.Seq) })
	return out, errors.Join(errs...)
}

// findTrace returns a trace's stored spans (JSON only when withJSON),
// those stored before seq before when it is not 0.
func (s *Store) findTrace(lo, before uint64, withJSON bool) ([]row, error) {
	hits, err := s.traceHits(lo, before)
	rows := make([]row, 0, len(hits))
	for _, h := range hits {
		r := *h.r
		if withJSON {
			js, err := s.jsonOf(h)
			if err != nil {
				return nil, err
			}
			r.JSON = js
		}
		rows = append(rows, r)
	}
	return rows, err
}

func (s *Store) jsonOf(h hit) ([]byte, error) {
	if h.d == nil {
		return h.r.JSON, nil
	}
	if err := s.loadJSON(h.p, h.b, h.d); err != nil {
		return nil, err
	}
	return h.d.jsonOf(h.i), nil
}

// spansJSON is a trace's spans for the API, each once: a span reported
// twice byte for byte (a retried POST) comes back once, as from Zipkin's
// in-memory storage.
func (s *Store) spansJSON(hits []hit) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(hits))
	for _, h := range hits {
		js, err := s.jsonOf(h)
		if err != nil {
			return nil, err
		}
		dup := false
		for _, o := range out {
			if bytes.Equal(o, js) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, js)
		}
	}
	return out, nil
}

func hitRows(hits []hit) []row {
	rows := make([]row, len(hits))
	for i, h := range hits {
		rows[i] = *h.r
	}
	return rows
}

// Trace returns the spans of one trace, in stored order. A 64-bit id and the
// low half of a 128-bit id find the same trace, as Zipkin's non-strict mode.
func (s *Store) Trace(id model.TraceID) ([]json.RawMessage, error) {
	hits, err := s.traceHits(id.Low, 0)
	if err != nil && len(hits) == 0 {
		return nil, err
	}
	if id.High != 0 {
		match := false
		for _, h := range hits {
			if h.r.TraceHi == id.High || h.r.TraceHi == 0 {
				match = true
				break
			}
		}
		if !match {
			return nil, nil
		}
	}
	return s.spansJSON(hits)
}

// searchSource is a block or a head to look for candidates in.
type searchSource struct {
	p     *partition
	b     *blockMeta // nil: head
	head  []row
	maxTS int64
}

type found struct {
	ts   int64
	lo   uint64
	hits []hit
}

// Search returns matching traces, newest first, each as its spans' JSON.
// It reads the blocks of the partitions in the window, newest first, skips
// blocks whose summary rules out a candidate span, assembles the trace of
// each candidate, and stops once no older block can hold a trace newer
// than the limit-th found.
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
	lo, hi := (q.EndTs-q.Lookback)*1000, q.EndTs*1000
	fromH, toH := hourOf(max(lo, 1)), hourOf(hi+searchSlack)
	var srcs []searchSource
	for _, p := range s.partitionList() {
		if p.hour < fromH || p.hour > toH {
			continue
		}
		p.mu.RLock()
		for _, b := range p.blocks {
			if b.maxTS == 0 || (b.maxTS >= lo && b.minTS <= hi+searchSlack) {
				if q.blockMay(b) {
					srcs = append(srcs, searchSource{p: p, b: b, maxTS: b.maxTS})
				}
			}
		}
		for _, h := range [][]row{p.sealing, p.head} {
			if len(h) > 0 {
				src := searchSource{p: p, head: h}
				for i := range h {
					src.maxTS = max(src.maxTS, h[i].TS)
				}
				srcs = append(srcs, src)
			}
		}
		p.mu.RUnlock()
	}
	slices.SortFunc(srcs, func(a, b searchSource) int { return cmp.Compare(b.maxTS, a.maxTS) })

	var res []found // sorted newest first, at most Limit
	worst := func() int64 {
		if len(res) < q.Limit {
			return math.MinInt64
		}
		return res[len(res)-1].ts
	}
	seen := map[uint64]bool{}
	var errs []error
	for _, src := range srcs {
		if src.maxTS < worst() {
			break
		}
		rows := src.head
		if src.b != nil {
			d, err := s.rowsOf(src.p, src.b)
			if err != nil {
				if !errors.Is(err, errPartitionGone) {
					errs = append(errs, err)
				}
				continue
			}
			rows = d.rows
		}
		var cands []*row
		for i := range rows {
			r := &rows[i]
			if (r.TS == 0 || r.TS >= lo && r.TS <= hi+searchSlack) && !seen[r.TraceLo] && q.candidate(r) {
				cands = append(cands, r)
			}
		}
		slices.SortFunc(cands, func(a, b *row) int { return cmp.Compare(b.TS, a.TS) })
		for _, c := range cands {
			if seen[c.TraceLo] || c.TS < worst() {
				continue
			}
			seen[c.TraceLo] = true
			hits, err := s.traceHits(c.TraceLo, 0)
			if err != nil {
				errs = append(errs, err)
			}
			trace := hitRows(hits)
			if !q.test(trace) {
				continue
			}
			f := found{ts: traceTS(trace), lo: c.TraceLo, hits: hits}
			at, _ := slices.BinarySearchFunc(res, f, func(a, b found) int {
				if a.ts != b.ts {
					return cmp.Compare(b.ts, a.ts)
				}
				return cmp.Compare(b.lo, a.lo)
			})
			res = slices.Insert(res, at, f)
			if len(res) > q.Limit {
				res = res[:q.Limit]
			}
		}
	}
	out := make([][]json.RawMessage, 0, len(res))
	for _, f := range res {
		spans, err := s.spansJSON(f.hits)
		if err != nil {
			return nil, err
		}
		out = append(out, spans)
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// allHours: the name routes list every name the store still holds;
// retention forgets the names only expired hours had.
const allHours = math.MinInt64

// Services lists local service names.
func (s *Store) Services() []string { return s.names.list(recService, "", allHours) }

// SpanNames lists the span names of a service.
func (s *Store) SpanNames(service string) []string { return s.names.list(recSpan, service, allHours) }

// RemoteServices lists the remote services a service called.
func (s *Store) RemoteServices(service string) []string {
	return s.names.list(recRemote, service, allHours)
}

// TagKeys lists the tag keys seen (autocompleteKeys).
func (s *Store) TagKeys() []string { return s.names.list(recTagKey, "", allHours) }

// TagValues lists the values of one tag key (autocompleteValues).
func (s *Store) TagValues(key string) []string { return s.names.list(recTagVal, key, allHours) }

// Dependencies sums the hourly links of the hours that overlap
// [endTs-lookback, endTs] (milliseconds), as Zipkin sums its daily rows:
// the window is widened to whole hours.
func (s *Store) Dependencies(endTs, lookback int64) []DependencyLink {
	s.control(ctlReq{deps: true}) // link what arrived in the current epoch first
	from := hourOf(max(endTs-lookback, 0)*1000 + 1)
	if endTs-lookback <= 0 {
		from = math.MinInt64
	}
	return s.deps.links(from, hourOf(endTs*1000))
}
