package traces

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"
)

func mk(trace, id, parent uint64, svc, name string, kind model.Kind, ts time.Time, dur time.Duration, tags map[string]string) Span {
	m := &model.SpanModel{SpanContext: model.SpanContext{TraceID: model.TraceID{Low: trace}, ID: model.ID(id)},
		Name: name, Kind: kind, Timestamp: ts, Duration: dur, LocalEndpoint: &model.Endpoint{ServiceName: svc}, Tags: tags}
	if parent != 0 {
		p := model.ID(parent)
		m.ParentID = &p
	}
	b, _ := m.MarshalJSON()
	return Span{Model: m, JSON: b}
}

func TestAnnotationQuery(t *testing.T) {
	q, err := ParseAnnotationQuery("error and http.method=GET and http.path=/a=b")
	if err != nil || fmt.Sprint(q) != "map[error: http.method:GET http.path:/a=b]" {
		t.Fatalf("%v %v", q, err)
	}
	for _, bad := range []string{"a and  and b", "=x"} {
		if _, err := ParseAnnotationQuery(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestSearchReopenRetention(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{Retention: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	old := now.AddDate(0, 0, -5)
	err = s.Write([]Span{
		mk(1, 1, 0, "web", "get", model.Server, now, 100*time.Millisecond, map[string]string{"http.method": "GET"}),
		mk(1, 2, 1, "web", "call", model.Client, now.Add(time.Millisecond), 50*time.Millisecond, nil),
		mk(2, 3, 0, "web", "get", model.Server, now.Add(time.Second), 5*time.Millisecond, map[string]string{"error": "x"}),
		mk(3, 4, 0, "old", "get", model.Server, old, time.Millisecond, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	end := now.Add(time.Minute).UnixMilli()
	search := func(q Query) int {
		q.EndTs, q.Lookback = end, 30*24*3600*1000
		r, err := s.Search(q)
		if err != nil {
			t.Fatal(err)
		}
		return len(r)
	}
	for _, c := range []struct {
		q    Query
		want int
	}{
		{Query{ServiceName: "web"}, 2},
		{Query{ServiceName: "web", SpanName: "call"}, 1},
		{Query{ServiceName: "web", MinDuration: 60000}, 1},
		{Query{ServiceName: "web", MaxDuration: 10000}, 2}, // trace 1's client span is 50ms > 10ms, but its... see below
		{Query{AnnotationQuery: map[string]string{"error": ""}}, 1},
		{Query{AnnotationQuery: map[string]string{"http.method": "GET"}}, 1},
		{Query{AnnotationQuery: map[string]string{"http.method": "POST"}}, 0},
		{Query{ServiceName: "old"}, 1},
	} {
		if c.q.MaxDuration == 10000 {
			c.want = 1 // only trace 2 has a web span of at most 10ms
		}
		if got := search(c.q); got != c.want {
			t.Errorf("%+v: %d traces, want %d", c.q, got, c.want)
		}
	}
	s.Close()
	// A torn record at the end of a day file is cut off on open.
	files, _ := filepath.Glob(filepath.Join(dir, "spans-*.ndjson"))
	f, _ := os.OpenFile(files[len(files)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"traceId":"00000000000000`)
	f.Close()
	s, err = Open(dir, Options{Retention: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := search(Query{ServiceName: "web"}); got != 2 {
		t.Fatalf("after reopen %d", got)
	}
	sp, _ := s.Trace(model.TraceID{Low: 1})
	if len(sp) != 2 || !strings.Contains(string(sp[0]), `"name":"get"`) {
		t.Fatalf("trace 1: %s", sp)
	}
	s.ApplyRetention(now)
	if got := search(Query{ServiceName: "old"}); got != 0 {
		t.Fatalf("retention kept %d old traces", got)
	}
	if got := search(Query{ServiceName: "web"}); got != 2 {
		t.Fatalf("retention removed new traces: %d", got)
	}
}

func FuzzAnnotationQuery(f *testing.F) {
	f.Add("error and http.method=GET")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseAnnotationQuery(s)
		if err == nil {
			for k := range q {
				if strings.Contains(k, " and ") {
					t.Fatalf("%q: key %q", s, k)
				}
			}
		}
	})
}
