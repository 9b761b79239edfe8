package traces

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ls is a span as DependencyLinkerTest.span and TraceTest.span write them.
type ls struct {
	trace, parent, id string
	kind              string // "", CLIENT, SERVER, PRODUCER, CONSUMER
	local, remote     string
	isError, shared   bool
	ip                string // local IPv4 (TraceTest)
}

func hexID(s string) uint64 { v, _ := strconv.ParseUint(s, 16, 64); return v }

func (s ls) row() row {
	r := row{TraceLo: hexID(s.trace), ID: hexID(s.id), Parent: hexID(s.parent), Local: endpoint{Service: s.local, IPv4: s.ip}, Remote: s.remote}
	if len(s.trace) > 16 {
		r.TraceHi, r.TraceLo = hexID(s.trace[:len(s.trace)-16]), hexID(s.trace[len(s.trace)-16:])
	}
	r.Kind = map[string]uint8{"CLIENT": kindClient, "SERVER": kindServer, "PRODUCER": kindProducer, "CONSUMER": kindConsumer}[s.kind]
	if s.isError {
		r.Flags |= flagError
	}
	if s.shared && r.Kind != kindClient {
		r.Flags |= flagShared
	}
	if r.Parent == r.ID {
		r.Parent = 0
	}
	return r
}

func rows(spans []ls) []row {
	out := make([]row, len(spans))
	for i, s := range spans {
		out[i] = s.row()
	}
	return out
}

type link = DependencyLink

type linkCase struct {
	zipkinTest string
	traces     [][]ls // each trace is put in turn
	want       []link // sorted by parent, child
}

// linksOf is DependencyLinker.putTrace over each trace, then link().
func linksOf(traces [][]ls) []link {
	m := map[linkKey]linkCount{}
	for _, t := range traces {
		linkTrace(rows(t), 1, m)
	}
	out := []link{}
	for k, c := range m {
		out = append(out, link{Parent: k.Parent, Child: k.Child, CallCount: c.Calls, ErrorCount: c.Errors})
	}
	slices.SortFunc(out, func(a, b link) int { return strings.Compare(a.Parent+"\x00"+a.Child, b.Parent+"\x00"+b.Child) })
	return out
}

// The TRACE of DependencyLinkerTest, in reverse order as reporting is more
// likely to happen.
var linkerTrace = []ls{
	{trace: "a", parent: "b", id: "c", kind: "CLIENT", local: "app", remote: "db", isError: true},
	{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "app", remote: "web", shared: true},
	{trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "web", remote: "app"},
	{trace: "a", id: "a", kind: "SERVER", local: "web"},
}

func with(base []ls, i int, f func(*ls)) []ls {
	out := slices.Clone(base)
	f(&out[i])
	return out
}

// The cases of zipkin2.internal.DependencyLinkerTest.
var linkCases = []linkCase{
	{"DependencyLinkerTest.baseCase", nil, []link{}},
	{"DependencyLinkerTest.linksSpans", [][]ls{linkerTrace},
		[]link{{Parent: "app", Child: "db", CallCount: 1, ErrorCount: 1}, {Parent: "web", Child: "app", CallCount: 1}}},
	{"DependencyLinkerTest.traceIdIsOpaque", [][]ls{{
		{trace: "123", parent: "b", id: "c", kind: "CLIENT", local: "app", remote: "db", isError: true},
		{trace: "123", parent: "a", id: "b", kind: "SERVER", local: "app", remote: "web", shared: true},
		{trace: "123", parent: "a", id: "b", kind: "CLIENT", local: "web", remote: "app"},
		{trace: "123", id: "a", kind: "SERVER", local: "web"}}},
		[]link{{Parent: "app", Child: "db", CallCount: 1, ErrorCount: 1}, {Parent: "web", Child: "app", CallCount: 1}}},
	{"DependencyLinkerTest.linksSpans_serverMissingParentId", [][]ls{{
		{trace: "a", id: "b", kind: "SERVER", local: "link", remote: "arn", shared: true},
		{trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "arn", remote: "link"},
		{trace: "a", id: "a", kind: "SERVER", local: "arn"}}},
		[]link{{Parent: "arn", Child: "link", CallCount: 1}}},
	{"DependencyLinkerTest.lateParentIdInSharedSpan", [][]ls{with(linkerTrace, 2, func(s *ls) { s.parent = "" })},
		[]link{{Parent: "app", Child: "db", CallCount: 1, ErrorCount: 1}, {Parent: "web", Child: "app", CallCount: 1}}},
	{"DependencyLinkerTest.lostChildAndNoParentIdInSharedSpan", [][]ls{slices.Delete(with(linkerTrace, 2, func(s *ls) { s.parent = "" }), 1, 2)},
		[]link{{Parent: "app", Child: "db", CallCount: 1, ErrorCount: 1}, {Parent: "web", Child: "app", CallCount: 1}}},
	{"DependencyLinkerTest.messagingSpansDontLinkWithoutBroker_consumer", [][]ls{{
		{trace: "a", id: "a", kind: "PRODUCER", local: "producer"},
		{trace: "a", parent: "a", id: "b", kind: "CONSUMER", local: "consumer", remote: "kafka"}}},
		[]link{{Parent: "kafka", Child: "consumer", CallCount: 1}}},
	{"DependencyLinkerTest.messagingSpansDontLinkWithoutBroker_producer", [][]ls{{
		{trace: "a", id: "a", kind: "PRODUCER", local: "producer", remote: "kafka"},
		{trace: "a", parent: "a", id: "b", kind: "CONSUMER", local: "consumer"}}},
		[]link{{Parent: "producer", Child: "kafka", CallCount: 1}}},
	{"DependencyLinkerTest.messagingWithBroker_both_sides_same", [][]ls{{
		{trace: "a", id: "a", kind: "PRODUCER", local: "producer", remote: "kafka"},
		{trace: "a", parent: "a", id: "b", kind: "CONSUMER", local: "consumer", remote: "kafka"}}},
		[]link{{Parent: "kafka", Child: "consumer", CallCount: 1}, {Parent: "producer", Child: "kafka", CallCount: 1}}},
	{"DependencyLinkerTest.messagingWithBroker_different", [][]ls{{
		{trace: "a", id: "a", kind: "PRODUCER", local: "producer", remote: "kafka1"},
		{trace: "a", parent: "a", id: "b", kind: "CONSUMER", local: "consumer", remote: "kafka2"}}},
		[]link{{Parent: "kafka2", Child: "consumer", CallCount: 1}, {Parent: "producer", Child: "kafka1", CallCount: 1}}},
	{"DependencyLinkerTest.messagingWithoutBroker_noLinks", [][]ls{{
		{trace: "a", id: "a", kind: "PRODUCER", local: "producer"},
		{trace: "a", parent: "a", id: "b", kind: "CONSUMER", local: "consumer"}}},
		[]link{}},
	{"DependencyLinkerTest.producerLinksToServer_childSpan", [][]ls{{
		{trace: "a", id: "a", kind: "PRODUCER", local: "producer"},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "server"}}},
		[]link{{Parent: "producer", Child: "server", CallCount: 1}}},
	{"DependencyLinkerTest.producerLinksToServer_sameSpan", [][]ls{{
		{trace: "a", id: "a", kind: "PRODUCER", local: "producer"},
		{trace: "a", id: "a", kind: "SERVER", local: "server", shared: true}}},
		[]link{{Parent: "producer", Child: "server", CallCount: 1}}},
	{"DependencyLinkerTest.clientDoesntLinkToConsumer_child", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "client"},
		{trace: "a", parent: "a", id: "b", kind: "CONSUMER", local: "consumer"}}},
		[]link{}},
	{"DependencyLinkerTest.linksSpansDirectedByKind (server root)", [][]ls{{{trace: "a", id: "a", kind: "SERVER", local: "server", remote: "client"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 1}}},
	{"DependencyLinkerTest.linksSpansDirectedByKind (client root)", [][]ls{{{trace: "a", id: "a", kind: "CLIENT", local: "client", remote: "server", shared: true}}},
		[]link{{Parent: "client", Child: "server", CallCount: 1}}},
	{"DependencyLinkerTest.callsAgainstTheSameLinkIncreasesCallCount_span", [][]ls{{
		{trace: "a", id: "a", kind: "SERVER", local: "client"},
		{trace: "a", parent: "a", id: "b", kind: "CLIENT", remote: "server"},
		{trace: "a", parent: "a", id: "c", kind: "CLIENT", remote: "server"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 2}}},
	{"DependencyLinkerTest.callsAgainstTheSameLinkIncreasesCallCount_trace", [][]ls{
		{{trace: "a", id: "a", kind: "SERVER", local: "client"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", remote: "server"}},
		{{trace: "a", id: "a", kind: "SERVER", local: "client"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", remote: "server"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 2}}},
	{"DependencyLinkerTest.singleHostSpansResultInASingleCallCount", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "client"},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "server"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 1}}},
	{"DependencyLinkerTest.singleHostSpansResultInASingleErrorCount", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "client", isError: true},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "server", isError: true}}},
		[]link{{Parent: "client", Child: "server", CallCount: 1, ErrorCount: 1}}},
	{"DependencyLinkerTest.singleHostSpansResultInASingleErrorCount_sameId", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "client", isError: true},
		{trace: "a", id: "a", kind: "SERVER", local: "server", isError: true, shared: true}}},
		[]link{{Parent: "client", Child: "server", CallCount: 1, ErrorCount: 1}}},
	{"DependencyLinkerTest.singleHostSpansResultInASingleCallCount_defersNameToServer", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "client", remote: "server"},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "server"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 1}}},
	{"DependencyLinkerTest.singleHostSpans_multipleChildren", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "client"},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "server", remote: "client", isError: true},
		{trace: "a", parent: "a", id: "c", kind: "SERVER", local: "server", remote: "client"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 2, ErrorCount: 1}}},
	{"DependencyLinkerTest.singleHostSpans_multipleChildren_defersNameToServer", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "client", remote: "server"},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "server"},
		{trace: "a", parent: "a", id: "c", kind: "SERVER", local: "server"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 2}}},
	{"DependencyLinkerTest.intermediatedClientSpansMissingLocalServiceNameLinkToNearestServer", [][]ls{{
		{trace: "a", id: "a", kind: "SERVER", local: "client"},
		{trace: "a", parent: "a", id: "b"},
		{trace: "a", parent: "b", id: "c", kind: "CLIENT", local: "server"},
		{trace: "a", parent: "b", id: "d", kind: "CLIENT", local: "server"}}},
		[]link{{Parent: "client", Child: "server", CallCount: 2}}},
	{"DependencyLinkerTest.errorsOnUninstrumentedLinks", [][]ls{{
		{trace: "a", id: "a", kind: "SERVER", local: "client"},
		{trace: "a", parent: "a", id: "b"},
		{trace: "a", parent: "b", id: "c", kind: "CLIENT", local: "server", isError: true},
		{trace: "a", parent: "b", id: "d", kind: "CLIENT", local: "server", isError: true}}},
		[]link{{Parent: "client", Child: "server", CallCount: 2}}},
	{"DependencyLinkerTest.errorsOnInstrumentedLinks", [][]ls{{
		{trace: "a", id: "a", kind: "SERVER", local: "foo"},
		{trace: "a", parent: "a", id: "b"},
		{trace: "a", parent: "b", id: "c", kind: "CLIENT", local: "bar", remote: "baz", isError: true},
		{trace: "a", parent: "b", id: "d", kind: "CLIENT", local: "bar", remote: "baz"}}},
		[]link{{Parent: "bar", Child: "baz", CallCount: 2, ErrorCount: 1}, {Parent: "foo", Child: "bar", CallCount: 2}}},
	{"DependencyLinkerTest.linkWithErrorIsLogged", [][]ls{{{trace: "a", parent: "b", id: "c", kind: "CLIENT", local: "foo", remote: "bar", isError: true}}},
		[]link{{Parent: "foo", Child: "bar", CallCount: 1, ErrorCount: 1}}},
	{"DependencyLinkerTest.annotationNamedErrorDoesntIncrementErrorCount", [][]ls{{{trace: "a", parent: "b", id: "c", kind: "CLIENT", local: "foo", remote: "bar"}}},
		[]link{{Parent: "foo", Child: "bar", CallCount: 1}}},
	{"DependencyLinkerTest.linksLoopbackSpans (server)", [][]ls{{{trace: "a", id: "a", kind: "SERVER", local: "service", remote: "service"}}},
		[]link{{Parent: "service", Child: "service", CallCount: 1}}},
	{"DependencyLinkerTest.linksLoopbackSpans (client)", [][]ls{{{trace: "b", id: "b", kind: "CLIENT", local: "service", remote: "service"}}},
		[]link{{Parent: "service", Child: "service", CallCount: 1}}},
	{"DependencyLinkerTest.noSpanKindTreatedSameAsClient", [][]ls{{
		{trace: "a", id: "a", local: "some-client", remote: "web"},
		{trace: "a", parent: "a", id: "b", local: "web", remote: "app"},
		{trace: "a", parent: "b", id: "c", local: "app", remote: "db"}}},
		[]link{{Parent: "app", Child: "db", CallCount: 1}, {Parent: "some-client", Child: "web", CallCount: 1}, {Parent: "web", Child: "app", CallCount: 1}}},
	{"DependencyLinkerTest.noSpanKindWithError", [][]ls{{
		{trace: "a", id: "a", local: "some-client", remote: "web"},
		{trace: "a", parent: "a", id: "b", local: "web", remote: "app", isError: true},
		{trace: "a", parent: "b", id: "c", local: "app", remote: "db"}}},
		[]link{{Parent: "app", Child: "db", CallCount: 1}, {Parent: "some-client", Child: "web", CallCount: 1}, {Parent: "web", Child: "app", CallCount: 1, ErrorCount: 1}}},
	{"DependencyLinkerTest.cannotLinkSingleSpanWithoutBothServiceNames", [][]ls{
		{{trace: "a", id: "a", kind: "SERVER"}},
		{{trace: "a", id: "a", kind: "SERVER", local: "server"}},
		{{trace: "a", id: "a", kind: "SERVER", remote: "client"}},
		{{trace: "a", id: "a", kind: "CLIENT"}},
		{{trace: "a", id: "a", kind: "CLIENT", local: "client"}},
		{{trace: "a", id: "a", kind: "CLIENT", remote: "server"}}},
		[]link{}},
	{"DependencyLinkerTest.doesntLinkUnrelatedSpansWhenMissingRootSpan", [][]ls{{
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "service1"},
		{trace: "a", parent: "a", id: "c", kind: "SERVER", local: "service2"}}},
		[]link{}},
	{"DependencyLinkerTest.linksRelatedSpansWhenMissingRootSpan", [][]ls{{
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "service1"},
		{trace: "a", parent: "b", id: "c", kind: "SERVER", local: "service2"}}},
		[]link{{Parent: "service1", Child: "service2", CallCount: 1}}},
	{"DependencyLinkerTest.linksSingleHostSpans", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "web"},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "app"}}},
		[]link{{Parent: "web", Child: "app", CallCount: 1}}},
	{"DependencyLinkerTest.linksSingleHostSpans_errorOnClient", [][]ls{{
		{trace: "a", id: "a", kind: "CLIENT", local: "web", isError: true},
		{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "app"}}},
		[]link{{Parent: "web", Child: "app", CallCount: 1, ErrorCount: 1}}},
	{"DependencyLinkerTest.missingSpan", [][]ls{{
		{trace: "a", id: "a", kind: "SERVER", local: "web"},
		{trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "app"}}},
		[]link{{Parent: "web", Child: "app", CallCount: 1}}},
	// Issue 13: a span reported twice (a retried POST) is merged first and
	// counts once (Trace.merge before SpanNode).
	{"DependencyLinker after Trace.merge: a retried span counts once", [][]ls{{
		{trace: "a", id: "a", kind: "SERVER", local: "web"},
		{trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "web", remote: "db"},
		{trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "web", remote: "db"}}},
		[]link{{Parent: "web", Child: "db", CallCount: 1}}},
	// The seed's message table (S1, C2/S2, C3/S3, C4/S4).
	{"seed: web-api calls recipe-api twice, recipe-api calls db", [][]ls{{
		{trace: "100", id: "110", kind: "SERVER", local: "web-api"},
		{trace: "100", parent: "110", id: "111", kind: "CLIENT", local: "web-api"},
		{trace: "100", parent: "110", id: "111", kind: "SERVER", local: "recipe-api", shared: true},
		{trace: "100", parent: "110", id: "121", kind: "CLIENT", local: "web-api"},
		{trace: "100", parent: "110", id: "121", kind: "SERVER", local: "recipe-api", shared: true},
		{trace: "100", parent: "121", id: "122", kind: "CLIENT", local: "recipe-api"},
		{trace: "100", parent: "121", id: "122", kind: "SERVER", local: "db", shared: true}}},
		[]link{{Parent: "recipe-api", Child: "db", CallCount: 1}, {Parent: "web-api", Child: "recipe-api", CallCount: 2}}},
}

func TestDependencyLinker(t *testing.T) {
	for _, c := range linkCases {
		t.Run(c.zipkinTest, func(t *testing.T) {
			if got := linksOf(c.traces); !reflect.DeepEqual(got, c.want) {
				t.Errorf("\n got %+v\nwant %+v", got, c.want)
			}
			// Taking a trace's links back out leaves nothing behind.
			m := map[linkKey]linkCount{}
			for _, tr := range c.traces {
				linkTrace(rows(tr), 1, m)
				linkTrace(rows(tr), -1, m)
			}
			if len(m) != 0 {
				t.Errorf("after -1: %v", m)
			}
		})
	}
}

// DependencyLinkerTest.merge and merge_error: links of a day are summed.
func TestDependencyRowsSum(t *testing.T) {
	d := newDeps("")
	for h, ls := range map[int64][]linkCount{10: {{2, 1}}, 11: {{2, 2}}} {
		d.rows[h] = map[linkKey]linkCount{{"foo", "bar"}: ls[0]}
	}
	d.rows[12] = map[linkKey]linkCount{{"foo", "foo"}: {1, 0}}
	got := d.links(10, 12)
	want := []link{{Parent: "foo", Child: "bar", CallCount: 4, ErrorCount: 3}, {Parent: "foo", Child: "foo", CallCount: 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v", got)
	}
	if got := d.links(12, 12); len(got) != 1 {
		t.Fatalf("one hour: %+v", got)
	}
}

type mergeCase struct {
	zipkinTest string
	in, want   []ls
}

// The cases of zipkin2.internal.TraceTest, over the fields the linker
// reads (tags and annotations are not kept by the merge here).
var mergeCases = []mergeCase{
	{"TraceTest.backfillsMissingParentIdOnSharedSpan",
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "a", id: "b", kind: "SERVER", local: "backend", shared: true}},
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", shared: true}}},
	{"TraceTest.backfillsMissingSharedFlag",
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend", ip: "1.2.3.4"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "5.6.7.8"}},
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend", ip: "1.2.3.4"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "5.6.7.8", shared: true}}},
	{"TraceTest.choosesBestTraceId",
		[]ls{{trace: "7180c278b62e8f6a216a2aea45d08fc9", id: "a", kind: "SERVER", local: "frontend"},
			{trace: "7180c278b62e8f6a216a2aea45d08fc9", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "216a2aea45d08fc9", parent: "a", id: "b", kind: "SERVER", local: "backend", shared: true}},
		[]ls{{trace: "7180c278b62e8f6a216a2aea45d08fc9", id: "a", kind: "SERVER", local: "frontend"},
			{trace: "7180c278b62e8f6a216a2aea45d08fc9", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "7180c278b62e8f6a216a2aea45d08fc9", parent: "a", id: "b", kind: "SERVER", local: "backend", shared: true}}},
	{"TraceTest.doesntMergeSharedSpansOnDifferentIPs",
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.4", shared: true},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.5", shared: true},
			{trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"}},
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.4", shared: true},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.5", shared: true}}},
	{"TraceTest.putsRandomDataOnFirstSpanWithEndpoint",
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT"},
			{trace: "a", parent: "a", id: "b", local: "frontend"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.4", shared: true},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.5", shared: true},
			{trace: "a", parent: "a", id: "b"}},
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.4", shared: true},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.5", shared: true}}},
	{"TraceTest.mergesIncompleteEndpoints",
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"},
			{trace: "a", parent: "a", id: "b", kind: "CLIENT", ip: "1.2.3.4"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", ip: "1.2.3.5", shared: true},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", shared: true}},
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend", ip: "1.2.3.4"},
			{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.5", shared: true}}},
	{"TraceTest.deletesSelfReferencingParentId",
		[]ls{{trace: "a", parent: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"}},
		[]ls{{trace: "a", id: "a", kind: "SERVER", local: "frontend"}, {trace: "a", parent: "a", id: "b", kind: "CLIENT", local: "frontend"}}},
	{"TraceTest.worksWhenMissingParentSpan",
		[]ls{{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.4"}, {trace: "a", parent: "a", id: "c", kind: "SERVER", local: "backend"}},
		[]ls{{trace: "a", parent: "a", id: "b", kind: "SERVER", local: "backend", ip: "1.2.3.4"}, {trace: "a", parent: "a", id: "c", kind: "SERVER", local: "backend"}}},
}

func linkFields(rs []row) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("trace=%x%016x parent=%x id=%x kind=%d shared=%v local=%+v", r.TraceHi, r.TraceLo, r.Parent, r.ID, r.Kind, r.shared(), r.Local))
	}
	slices.Sort(out)
	return out
}

func TestTraceMerge(t *testing.T) {
	for _, c := range mergeCases {
		t.Run(c.zipkinTest, func(t *testing.T) {
			if got, want := linkFields(mergeTrace(rows(c.in))), linkFields(rows(c.want)); !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
			}
		})
	}
	// TraceTest.mergesWhenMissingEndpoints: timestamps and durations sent
	// in pieces join one span.
	got := mergeTrace([]row{{TraceLo: 0xa, ID: 0xb, Parent: 0xa, TS: 1}, {TraceLo: 0xa, ID: 0xb, Parent: 0xa, Dur: 10}})
	if len(got) != 1 || got[0].TS != 1 || got[0].Dur != 10 {
		t.Fatalf("%+v", got)
	}
}

// With ZIPKIN_ORACLE set (../shared/zipkin-oracle running), each linker case
// is also put to Zipkin's DependencyLinker through its API: the traces of
// a case get timestamps in a window of their own.
func TestOracleDependencyLinker(t *testing.T) {
	base := strings.TrimSuffix(os.Getenv("ZIPKIN_ORACLE"), "/")
	if base == "" {
		t.Skip("ZIPKIN_ORACLE not set")
	}
	// The oracle keeps what earlier runs sent: a day and trace ids of this
	// run's own.
	salt := uint64(time.Now().UnixNano()) & 0xffff
	t0 := time.Now().Add(-time.Duration(10+salt%300) * 24 * time.Hour).Truncate(time.Hour)
	for i, c := range linkCases {
		t.Run(c.zipkinTest, func(t *testing.T) {
			at := t0.Add(time.Duration(i) * 10 * time.Minute)
			for j, tr := range c.traces {
				var spans []map[string]any
				for _, s := range tr {
					m := map[string]any{"traceId": fmt.Sprintf("%x%04x%04x%04x", hexID(s.trace), salt, i, j), "id": s.id, "timestamp": at.UnixMicro()}
					if s.parent != "" {
						m["parentId"] = s.parent
					}
					if s.kind != "" {
						m["kind"] = s.kind
					}
					if s.local != "" {
						m["localEndpoint"] = map[string]any{"serviceName": s.local}
					}
					if s.remote != "" {
						m["remoteEndpoint"] = map[string]any{"serviceName": s.remote}
					}
					if s.isError {
						m["tags"] = map[string]string{"error": ""}
					}
					if s.shared {
						m["shared"] = true
					}
					spans = append(spans, m)
				}
				b, _ := json.Marshal(spans)
				resp, err := http.Post(base+"/api/v2/spans", "application/json", bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			resp, err := http.Get(fmt.Sprintf("%s/api/v2/dependencies?endTs=%d&lookback=60000", base, at.UnixMilli()+1))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got := []link{}
			json.NewDecoder(resp.Body).Decode(&got)
			slices.SortFunc(got, func(a, b link) int { return strings.Compare(a.Parent+"\x00"+a.Child, b.Parent+"\x00"+b.Child) })
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("zipkin %+v, the table says %+v", got, c.want)
			}
		})
	}
}
