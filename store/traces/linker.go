package traces

import (
	"cmp"
	"slices"
)

// This file is Zipkin's trace clean-up and dependency linking
// (zipkin2.internal.Trace.merge, SpanNode.Builder and DependencyLinker),
// rewritten over rows: a trace's spans are merged (parts of one span sent
// separately, a retry reported twice), built into a tree the way Zipkin
// builds it (shared client/server spans, missing parents attached to the
// root), and walked breadth first to count service links. The cases of
// Zipkin's DependencyLinkerTest and TraceTest are in linker_test.go.

// linkKey is a directed link between two services.
type linkKey struct{ Parent, Child string }

// linkCount is how often a link was called, and how often with an error.
type linkCount struct{ Calls, Errors int64 }

// compareEndpoint orders a missing endpoint first, then by service, IPv4,
// IPv6, each with a missing value last (Trace.compareEndpoint).
func compareEndpoint(a, b endpoint) int {
	if a.empty() || b.empty() {
		switch {
		case a.empty() && b.empty():
			return 0
		case a.empty():
			return -1
		}
		return 1
	}
	for _, f := range [][2]string{{a.Service, b.Service}, {a.IPv4, b.IPv4}, {a.IPv6, b.IPv6}} {
		if c := nullLast(f[0], f[1]); c != 0 {
			return c
		}
	}
	return 0
}

func nullLast(a, b string) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return 1
	case b == "":
		return -1
	}
	return cmp.Compare(a, b)
}

// compareShared puts shared spans last and, of the rest, client spans first.
func compareShared(a, b *row) int {
	as, bs := a.shared(), b.shared()
	switch {
	case as && bs:
		return 0
	case as:
		return 1
	case bs:
		return -1
	}
	ac, bc := a.Kind == kindClient, b.Kind == kindClient
	switch {
	case ac && bc:
		return 0
	case ac:
		return -1
	case bc:
		return 1
	}
	return 0
}

// endpointTracker says whether endpoints sent in pieces belong to one span.
type endpointTracker struct{ ep endpoint }

func (t *endpointTracker) tryMerge(e endpoint) bool {
	if e.empty() {
		return true
	}
	if t.ep.Service != "" && e.Service != "" && t.ep.Service != e.Service ||
		t.ep.IPv4 != "" && e.IPv4 != "" && t.ep.IPv4 != e.IPv4 ||
		t.ep.IPv6 != "" && e.IPv6 != "" && t.ep.IPv6 != e.IPv6 ||
		t.ep.Port != 0 && e.Port != 0 && t.ep.Port != e.Port {
		return false
	}
	t.ep = mergeEndpoint(t.ep, e)
	return true
}

func mergeEndpoint(a, b endpoint) endpoint {
	if a.Service == "" {
		a.Service = b.Service
	}
	if a.IPv4 == "" {
		a.IPv4 = b.IPv4
	}
	if a.IPv6 == "" {
		a.IPv6 = b.IPv6
	}
	if a.Port == 0 {
		a.Port = b.Port
	}
	return a
}

// mergeInto fills what a lacks from b (Span.Builder.merge), for the
// fields the linker reads.
func mergeInto(a *row, b *row) {
	if a.Parent == 0 {
		a.Parent = b.Parent
	}
	if a.Kind == kindNone {
		a.Kind = b.Kind
	}
	if a.Name == "" {
		a.Name = b.Name
	}
	if a.TS == 0 {
		a.TS = b.TS
	}
	if a.Dur == 0 {
		a.Dur = b.Dur
	}
	if a.Local.empty() {
		a.Local = b.Local
	} else if !b.Local.empty() {
		a.Local = mergeEndpoint(a.Local, b.Local)
	}
	if a.Remote == "" {
		a.Remote = b.Remote
	}
	a.Flags |= b.Flags
}

// finishSpan applies Span.Builder.build's clean-ups to a merged span.
func finishSpan(r *row) {
	if r.Parent == r.ID {
		r.Parent = 0
	}
	if r.Kind == kindClient {
		r.Flags &^= flagShared
	}
}

// mergeTrace is Trace.merge: spans of one trace sorted by id (client
// first, then by local endpoint), parts of one span merged, the longest
// trace id kept, and a shared flag or parent id that instrumentation left
// out on a server span backfilled from its client. rows is not modified.
func mergeTrace(rows []row) []row { return mergeInto2(nil, rows) }

// mergeInto2 is mergeTrace writing into buf's space.
func mergeInto2(buf, rows []row) []row {
	if len(rows) <= 1 {
		return append(buf[:0], rows...)
	}
	res := append(buf[:0], rows...)
	slices.SortStableFunc(res, func(a, b row) int {
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := compareShared(&a, &b); c != 0 {
			return c
		}
		return compareEndpoint(a.Local, b.Local)
	})
	var hi uint64
	for i := range res {
		if hi == 0 {
			hi = res[i].TraceHi
		}
	}
	var last *row
	out := res[:0]
	for i := 0; i < len(res); i++ {
		span := res[i]
		span.TraceHi = hi
		shared := span.shared()
		var tracker *endpointTracker
		for i+1 < len(res) && res[i+1].ID == span.ID {
			next := &res[i+1]
			if tracker == nil {
				tracker = &endpointTracker{}
				tracker.tryMerge(span.Local)
			}
			if shared != next.shared() || !tracker.tryMerge(next.Local) {
				break
			}
			mergeInto(&span, next)
			i++
		}
		if last != nil && last.ID == span.ID {
			if last.Kind == kindClient && span.Kind == kindServer && !shared {
				shared = true
				span.Flags |= flagShared
			}
			if shared && span.Parent == 0 && last.Parent != 0 {
				span.Parent = last.Parent
			}
		}
		finishSpan(&span)
		out = append(out, span)
		last = &out[len(out)-1]
	}
	return out
}

// nodeKey is SpanNode's key: a span id, or for a shared span the id and
// the local endpoint (so the server half is told from its client).
type nodeKey struct {
	id     uint64
	shared bool
	ep     endpoint
}

func keyOf(id uint64, shared bool, ep endpoint) nodeKey {
	if !shared {
		return nodeKey{id: id}
	}
	return nodeKey{id: id, shared: true, ep: ep}
}

type spanNode struct {
	parent   *spanNode
	span     *row // nil for a synthetic root
	children []*spanNode
}

// smallTrace is how many keys a nodeMap keeps in a list before it takes a
// map. Most traces are a few spans (telemetrygen's are two), and hashing
// node keys, three endpoint strings each, into maps was a third of the
// linker's time; a list of a few keys is searched faster than that.
var smallTrace = 16

// nodeMap maps node keys to V: a list while it is short, a map past
// smallTrace keys. Its space is kept from trace to trace.
type nodeMap[V any] struct {
	small  []nodeEntry[V]
	big    map[nodeKey]V
	useBig bool
}

type nodeEntry[V any] struct {
	k nodeKey
	v V
}

func (m *nodeMap[V]) find(k nodeKey) int {
	for i := range m.small {
		if e := &m.small[i]; e.k.id == k.id && e.k == k {
			return i
		}
	}
	return -1
}

func (m *nodeMap[V]) get(k nodeKey) (V, bool) {
	if m.useBig {
		v, ok := m.big[k]
		return v, ok
	}
	if i := m.find(k); i >= 0 {
		return m.small[i].v, true
	}
	var zero V
	return zero, false
}

func (m *nodeMap[V]) set(k nodeKey, v V) {
	if m.useBig {
		m.big[k] = v
		return
	}
	if i := m.find(k); i >= 0 {
		m.small[i].v = v
		return
	}
	if len(m.small) < smallTrace {
		m.small = append(m.small, nodeEntry[V]{k, v})
		return
	}
	if m.big == nil {
		m.big = map[nodeKey]V{}
	}
	for _, e := range m.small {
		m.big[e.k] = e.v
	}
	m.big[k] = v
	m.small, m.useBig = m.small[:0], true
}

func (m *nodeMap[V]) del(k nodeKey) {
	if m.useBig {
		delete(m.big, k)
		return
	}
	if i := m.find(k); i >= 0 {
		last := len(m.small) - 1
		m.small[i] = m.small[last]
		m.small = m.small[:last]
	}
}

func (m *nodeMap[V]) reset() {
	clear(m.small) // no pointers kept from the last trace
	m.small = m.small[:0]
	if m.useBig {
		clear(m.big)
		m.useBig = false
	}
}

// linker is the scratch space for linking one trace after another (what
// Zipkin's SpanNode.Builder.clear() keeps): the linker goroutine links
// thousands of traces a second, and maps made per trace were most of its
// cost.
type linker struct {
	merged    []row
	nodes     []spanNode
	keyToNode nodeMap[*spanNode]
	toParent  orderedMap
	queue     []*spanNode
}

func newLinker() *linker { return &linker{} }

// parentKey is a node's parent's key; ok false: no parent.
type parentKey struct {
	key nodeKey
	ok  bool
}

// orderedMap keeps insertion order, as Java's LinkedHashMap does: the
// order children are attached in. A key removed and put again moves to
// the end.
type orderedMap struct {
	keys []nodeKey
	pos  nodeMap[int]
	vals nodeMap[parentKey]
}

func (m *orderedMap) put(k nodeKey, v parentKey) {
	if _, ok := m.vals.get(k); !ok {
		m.pos.set(k, len(m.keys))
		m.keys = append(m.keys, k)
	}
	m.vals.set(k, v)
}

func (m *orderedMap) remove(k nodeKey) {
	m.vals.del(k)
	m.pos.del(k)
}

func (m *orderedMap) clear() {
	m.keys = m.keys[:0]
	m.pos.reset()
	m.vals.reset()
}

// buildTree is SpanNode.Builder.build over merged rows.
func buildTree(spans []row) *spanNode { return newLinker().buildTree(spans) }

func (l *linker) buildTree(spans []row) *spanNode {
	l.keyToNode.reset()
	l.toParent.clear()
	if cap(l.nodes) < len(spans)+1 {
		l.nodes = make([]spanNode, 0, len(spans)+1)
	}
	// Nodes live in one slice (its space reused from trace to trace); it
	// never grows past its capacity here, so the pointers stay valid.
	l.nodes = l.nodes[:len(spans)+1]
	newNode := func(i int, s *row) *spanNode {
		n := &l.nodes[i]
		*n = spanNode{span: s, children: n.children[:0]}
		return n
	}
	var root *spanNode
	keyToNode, spanToParent := &l.keyToNode, &l.toParent
	for i := range spans {
		s := &spans[i]
		if s.shared() {
			spanToParent.put(keyOf(s.ID, true, s.Local), parentKey{nodeKey{id: s.ID}, true})
		} else {
			spanToParent.put(nodeKey{id: s.ID}, parentKey{nodeKey{id: s.Parent}, s.Parent != 0})
		}
	}
	for i := range spans {
		s := &spans[i]
		shared := s.shared()
		key := keyOf(s.ID, shared, s.Local)
		noEndpointKey := key
		if !s.Local.empty() {
			noEndpointKey = keyOf(s.ID, shared, endpoint{})
		}
		var parent parentKey
		switch {
		case shared:
			parent = parentKey{nodeKey{id: s.ID}, true}
		case s.Parent != 0:
			pk := keyOf(s.Parent, true, s.Local)
			if _, ok := spanToParent.vals.get(pk); ok {
				parent = parentKey{pk, true}
				spanToParent.put(noEndpointKey, parent)
			} else {
				parent = parentKey{nodeKey{id: s.Parent}, true}
			}
		}
		node := newNode(i, s)
		switch {
		case !parent.ok && root == nil:
			root = node
			spanToParent.remove(noEndpointKey)
		case shared:
			keyToNode.set(key, node)
			keyToNode.set(noEndpointKey, node)
		default:
			keyToNode.set(noEndpointKey, node)
		}
	}
	if root == nil {
		root = newNode(len(spans), nil) // synthetic root
	}
	for i, k := range spanToParent.keys {
		if p, ok := spanToParent.pos.get(k); !ok || p != i {
			continue // removed (the root), or put again later
		}
		pk, _ := spanToParent.vals.get(k)
		child, _ := keyToNode.get(k)
		if child == nil {
			continue
		}
		var parent *spanNode
		if pk.ok {
			parent, _ = keyToNode.get(pk.key)
		}
		if parent == nil {
			parent = root
		}
		if parent == child {
			continue // Zipkin refuses a circular dependency
		}
		parent.children = append(parent.children, child)
		child.parent = parent
	}
	return root
}

// linkTrace adds the links of one trace's spans to links
// (DependencyLinker.putTrace), weighted by sign (-1 takes a trace's
// earlier contribution back out).
func linkTrace(spans []row, sign int64, links map[linkKey]linkCount) {
	newLinker().link(spans, sign, links)
}

func (l *linker) link(spans []row, sign int64, links map[linkKey]linkCount) {
	if len(spans) == 0 {
		return
	}
	l.merged = mergeInto2(l.merged, spans)
	tree := l.buildTree(l.merged)
	add := func(p, c string, isErr bool) {
		k := linkKey{p, c}
		lc := links[k]
		lc.Calls += sign
		if isErr {
			lc.Errors += sign
		}
		if lc.Calls == 0 && lc.Errors == 0 {
			delete(links, k)
		} else {
			links[k] = lc
		}
	}
	queue := append(l.queue[:0], tree)
	if tree.span == nil {
		queue = append(queue[:0], tree.children...)
	}
	defer func() { l.queue = queue[:0] }()
	for h := 0; h < len(queue); h++ {
		cur := queue[h]
		queue = append(queue, cur.children...)
		s := cur.span
		kind := s.Kind
		// Links to a client are named by the server below it when there is one.
		if kind == kindClient && len(cur.children) > 0 {
			continue
		}
		svc, remote := s.Local.Service, s.Remote
		if kind == kindNone {
			// A span of no kind that knows both sides is a client span.
			if svc == "" || remote == "" {
				continue
			}
			kind = kindClient
		}
		var parent, child string
		switch kind {
		case kindServer, kindConsumer:
			child, parent = svc, remote
			if cur == tree && parent == "" {
				continue // the root's caller is unknown
			}
		case kindClient, kindProducer:
			parent, child = svc, remote
		}
		isErr := s.isError()
		if kind == kindProducer || kind == kindConsumer {
			// Messaging links to and from the broker, never producer to consumer.
			if parent != "" && child != "" {
				add(parent, child, isErr)
			}
			continue
		}
		if anc := firstRemoteAncestor(cur); anc != nil && anc.Local.Service != "" {
			ancName := anc.Local.Service
			if kind == kindClient && svc != "" && ancName != svc {
				add(ancName, svc, false) // a missing span between the nearest server and this client
			}
			if kind == kindServer || parent == "" {
				parent = ancName
			}
			// An RPC split into client and server spans: the client's error counts.
			if !isErr && anc.Kind == kindClient && s.Parent != 0 && s.Parent == anc.ID {
				isErr = anc.isError()
			}
		}
		if parent == "" || child == "" {
			continue
		}
		add(parent, child, isErr)
	}
}

func firstRemoteAncestor(n *spanNode) *row {
	for a := n.parent; a != nil; a = a.parent {
		if a.span != nil && a.span.Kind != kindNone {
			return a.span
		}
	}
	return nil
}
