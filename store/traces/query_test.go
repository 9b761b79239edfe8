package traces

import (
	"maps"
	"testing"
)

// The annotationQuery cases of zipkin2.storage.QueryRequestTest.
func TestParseAnnotationQueryZipkin(t *testing.T) {
	for _, c := range []struct {
		zipkinTest, in string
		want           map[string]string
	}{
		{"QueryRequestTest.annotationQueryTrimsSpaces", "fo and o and bar and http.path = /a ", map[string]string{"fo": "", "o": "", "bar": "", "http.path": "/a"}},
		{"QueryRequestTest.annotationQueryTrimsSpaces", " http.path = /a   and fo and o   and bar", map[string]string{"fo": "", "o": "", "bar": "", "http.path": "/a"}},
		{"QueryRequestTest.annotationQueryTrimsSpaces", "L O L", map[string]string{"L O L": ""}},
		{"QueryRequestTest.annotationQueryTrimsSpaces", "L O L and http.path = /a", map[string]string{"L O L": "", "http.path": "/a"}},
		{"QueryRequestTest.annotationQueryTrimsSpaces", "bar =123 and L O L and http.path = /a and A B C", map[string]string{"L O L": "", "http.path": "/a", "bar": "123", "A B C": ""}},
		{"QueryRequestTest.annotationQueryParameterSpecificity", "a=123 and a", map[string]string{"a": "123"}},
		{"QueryRequestTest.annotationQueryParameterSpecificity", "a and a=123", map[string]string{"a": "123"}},
		{"QueryRequestTest.annotationQueryParameterSpecificity", "a=123 and a=456", map[string]string{"a": "456"}},
		{"QueryRequestTest.annotationQueryParameterSpecificity", "a and a=123 and a=456", map[string]string{"a": "456"}},
		{"QueryRequestTest.annotationQuery_roundTrip", "http.method=GET and error", map[string]string{"http.method": "GET", "error": ""}},
		{"QueryRequestTest.annotationQuery_missingValue", "http.method=", map[string]string{"http.method": ""}},
		{"QueryRequestTest.annotationQueryWhenNoInputIsEmpty", "", map[string]string{}},
		{"a value with = in it", "http.path=/a=b", map[string]string{"http.path": "/a=b"}},
	} {
		got, err := ParseAnnotationQuery(c.in)
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("%s %q: %v %v, want %v", c.zipkinTest, c.in, got, err, c.want)
		}
	}
}

// The test() cases of zipkin2.storage.QueryRequestTest: a consumer span of
// service "app" at TODAY, queried with lookback 60 ms, limit 10.
func TestQueryRequestTest(t *testing.T) {
	const today = int64(1_700_000_000_000) // ms
	span := row{TraceLo: 0x10, ID: 0x10, Name: "receive", Local: endpoint{Service: "app"}, Kind: kindConsumer, TS: today * 1000}
	q := func(f func(*Query)) Query {
		r := Query{EndTs: today, Lookback: 60, Limit: 10}
		if f != nil {
			f(&r)
		}
		return r
	}
	mod := func(f func(*row)) row { r := span; f(&r); return r }
	foo := mod(func(r *row) { r.TraceLo, r.ID, r.Name, r.Annos = 1, 1, "call1", []string{"foo"} })
	barAndFoo := mod(func(r *row) { r.TraceLo, r.ID, r.Name, r.Annos = 2, 2, "call2", []string{"bar", "foo"} })
	fooAndBazAndQux := mod(func(r *row) {
		r.TraceLo, r.ID, r.Name, r.Annos, r.TagK, r.TagV = 3, 3, "call3", []string{"foo"}, []string{"baz"}, []string{"qux"}
	})
	barAndFooAndBazAndQux := mod(func(r *row) {
		r.TraceLo, r.ID, r.Name, r.Annos, r.TagK, r.TagV = 4, 4, "call4", []string{"bar", "foo"}, []string{"baz"}, []string{"qux"}
	})
	aq := func(s string) func(*Query) {
		return func(r *Query) { r.AnnotationQuery, _ = ParseAnnotationQuery(s) }
	}
	for _, c := range []struct {
		zipkinTest string
		q          Query
		trace      []row
		want       bool
	}{
		{"test_matchesTimestamp", q(nil), []row{span}, true},
		{"test_rootSpanNotFirst", q(nil), []row{mod(func(r *row) { r.ID, r.Parent, r.TS = 2, span.ID, 0 }), span}, true},
		{"test_noRootSpanLeastWins", q(nil), []row{mod(func(r *row) { r.ID, r.Parent, r.TS = 2, span.ID, span.TS+86400_000_000 }), mod(func(r *row) { r.ID, r.Parent = 3, span.ID })}, true},
		{"test_noTimestamp", q(nil), []row{mod(func(r *row) { r.TS = 0 })}, false},
		{"test_timestampPastLookback", q(func(r *Query) { r.EndTs = today + 70 }), []row{span}, false},
		{"test_wrongServiceName", q(func(r *Query) { r.ServiceName = "aloha" }), []row{span}, false},
		{"test_spanName (no match)", q(func(r *Query) { r.SpanName = "aloha" }), []row{span}, false},
		{"test_spanName", q(func(r *Query) { r.SpanName = "aloha" }), []row{mod(func(r *row) { r.Name = "aloha" })}, true},
		{"test_remoteServiceName (no match)", q(func(r *Query) { r.RemoteServiceName = "db" }), []row{span}, false},
		{"test_remoteServiceName", q(func(r *Query) { r.RemoteServiceName = "db" }), []row{mod(func(r *row) { r.Remote = "db" })}, true},
		{"test_minDuration (99)", q(func(r *Query) { r.MinDuration = 100 }), []row{mod(func(r *row) { r.Dur = 99 })}, false},
		{"test_minDuration (100)", q(func(r *Query) { r.MinDuration = 100 }), []row{mod(func(r *row) { r.Dur = 100 })}, true},
		{"test_maxDuration (99)", q(func(r *Query) { r.MinDuration, r.MaxDuration = 100, 110 }), []row{mod(func(r *row) { r.Dur = 99 })}, false},
		{"test_maxDuration (100)", q(func(r *Query) { r.MinDuration, r.MaxDuration = 100, 110 }), []row{mod(func(r *row) { r.Dur = 100 })}, true},
		{"test_maxDuration (111)", q(func(r *Query) { r.MinDuration, r.MaxDuration = 100, 110 }), []row{mod(func(r *row) { r.Dur = 111 })}, false},
		{"test_annotationQuery_tagKey (foo)", q(aq("baz")), []row{foo}, false},
		{"test_annotationQuery_tagKey (barAndFoo)", q(aq("baz")), []row{barAndFoo}, false},
		{"test_annotationQuery_tagKey (barAndFooAndBazAndQux)", q(aq("baz")), []row{barAndFooAndBazAndQux}, true},
		{"test_annotationQuery_tagKey (fooAndBazAndQux)", q(aq("baz")), []row{fooAndBazAndQux}, true},
		{"test_annotationQuery_annotation (foo)", q(aq("foo")), []row{foo}, true},
		{"test_annotationQuery_annotation (barAndFoo)", q(aq("foo")), []row{barAndFoo}, true},
		{"test_annotationQuery_annotation (barAndFooAndBazAndQux)", q(aq("foo")), []row{barAndFooAndBazAndQux}, true},
		{"test_annotationQuery_annotation (fooAndBazAndQux)", q(aq("foo")), []row{fooAndBazAndQux}, true},
		{"test_annotationQuery_twoAnnotation (foo)", q(aq("foo and bar")), []row{foo}, false},
		{"test_annotationQuery_twoAnnotation (barAndFoo)", q(aq("foo and bar")), []row{barAndFoo}, true},
		{"test_annotationQuery_twoAnnotation (barAndFooAndBazAndQux)", q(aq("foo and bar")), []row{barAndFooAndBazAndQux}, true},
		{"test_annotationQuery_twoAnnotation (fooAndBazAndQux)", q(aq("foo and bar")), []row{fooAndBazAndQux}, false},
		{"test_annotationQuery_annotationsAndTag (foo)", q(aq("foo and bar and baz=qux")), []row{foo}, false},
		{"test_annotationQuery_annotationsAndTag (barAndFoo)", q(aq("foo and bar and baz=qux")), []row{barAndFoo}, false},
		{"test_annotationQuery_annotationsAndTag (barAndFooAndBazAndQux)", q(aq("foo and bar and baz=qux")), []row{barAndFooAndBazAndQux}, true},
		{"test_annotationQuery_annotationsAndTag (fooAndBazAndQux)", q(aq("foo and bar and baz=qux")), []row{fooAndBazAndQux}, false},
		// The service name constrains the other criteria to its spans.
		{"QueryRequest.test: criteria on another service's span", q(func(r *Query) { r.ServiceName, r.SpanName = "web", "receive" }),
			[]row{span, mod(func(r *row) { r.ID, r.Parent, r.Local.Service, r.Name = 2, span.ID, "web", "other" })}, false},
	} {
		if got := c.q.test(c.trace); got != c.want {
			t.Errorf("QueryRequestTest.%s: %v, want %v", c.zipkinTest, got, c.want)
		}
		// Every matching trace has a candidate span (what searches scan for).
		if c.want {
			found := false
			for i := range c.trace {
				found = found || c.q.candidate(&c.trace[i])
			}
			if !found {
				t.Errorf("QueryRequestTest.%s: no candidate span", c.zipkinTest)
			}
		}
	}
}

func FuzzAnnotationQuery(f *testing.F) {
	f.Add("error and http.method=GET")
	f.Add("a and  and b")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseAnnotationQuery(s)
		if err == nil {
			for k := range q {
				if k == "" || len(k) > len(s) {
					t.Fatalf("%q: key %q", s, k)
				}
			}
		}
	})
}
