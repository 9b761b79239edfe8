package traces

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

func withRemote(s Span, remote string) Span {
	s.Model.RemoteEndpoint = &model.Endpoint{ServiceName: remote}
	s.JSON, _ = s.Model.MarshalJSON()
	return s
}

func commit(t testing.TB, s *Store, spans ...Span) {
	t.Helper()
	if err := s.Commit(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
}

func open(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func searchN(t testing.TB, s *Store, q Query, end time.Time) int {
	t.Helper()
	q.EndTs, q.Lookback = end.UnixMilli(), 30*24*3600*1000
	r, err := s.Search(q)
	if err != nil {
		t.Fatal(err)
	}
	return len(r)
}

func TestAnnotationQuery(t *testing.T) {
	q, err := ParseAnnotationQuery("error and http.method=GET and http.path=/a=b")
	if err != nil || fmt.Sprint(q) != "map[error: http.method:GET http.path:/a=b]" {
		t.Fatalf("%v %v", q, err)
	}
	for _, bad := range []string{"a and  and b", "=x", "a and "} {
		if _, err := ParseAnnotationQuery(bad); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestSearchReopenRetention(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{Retention: 48 * time.Hour})
	now := time.Now()
	old := now.AddDate(0, 0, -5)
	commit(t, s,
		mk(1, 1, 0, "web", "get", model.Server, now, 100*time.Millisecond, map[string]string{"http.method": "GET"}),
		mk(1, 2, 1, "web", "call", model.Client, now.Add(time.Millisecond), 50*time.Millisecond, nil),
		mk(2, 3, 0, "web", "get", model.Server, now.Add(time.Second), 5*time.Millisecond, map[string]string{"error": "x"}),
		mk(3, 4, 0, "old", "get", model.Server, old, time.Millisecond, nil),
	)
	end := now.Add(time.Minute)
	check := func(stage string) {
		for _, c := range []struct {
			q    Query
			want int
		}{
			{Query{ServiceName: "web"}, 2},
			{Query{ServiceName: "web", SpanName: "call"}, 1},
			{Query{ServiceName: "web", MinDuration: 60000}, 1},
			{Query{ServiceName: "web", MinDuration: 1, MaxDuration: 10000}, 1}, // only trace 2 has a web span of at most 10ms
			{Query{AnnotationQuery: map[string]string{"error": ""}}, 1},
			{Query{AnnotationQuery: map[string]string{"http.method": "GET"}}, 1},
			{Query{AnnotationQuery: map[string]string{"http.method": "POST"}}, 0},
			{Query{ServiceName: "old"}, 1},
			{Query{ServiceName: "nobody"}, 0},
		} {
			if got := searchN(t, s, c.q, end); got != c.want {
				t.Errorf("%s: %+v: %d traces, want %d", stage, c.q, got, c.want)
			}
		}
		sp, err := s.Trace(model.TraceID{Low: 1})
		if err != nil || len(sp) != 2 || !strings.Contains(string(sp[0]), `"name":"get"`) {
			t.Fatalf("%s: trace 1: %v %s", stage, err, sp)
		}
		if got := s.Services(); !slices.Equal(got, []string{"old", "web"}) {
			t.Fatalf("%s: services %v", stage, got)
		}
	}
	check("in the head")
	s.Flush()
	check("in blocks")
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	check("indexed")
	s.Close()

	s = open(t, dir, Options{})
	check("reopened")
	s.Close()
	// Opening with a retention removes the expired hour.
	s = open(t, dir, Options{Retention: 48 * time.Hour})
	defer s.Close()
	s.Flush() // the writer applies the retention when it starts
	if got := searchN(t, s, Query{ServiceName: "old"}, end); got != 0 {
		t.Fatalf("retention kept %d old traces", got)
	}
	if got := searchN(t, s, Query{ServiceName: "web"}, end); got != 2 {
		t.Fatalf("retention removed new traces: %d", got)
	}
	if got := s.Services(); !slices.Equal(got, []string{"web"}) {
		t.Fatalf("services after retention %v", got)
	}
}

// A trace's spans arrive in batches hours apart, one span twice (a retried
// POST): the trace comes back whole, the duplicate once, and its
// dependency link counts once.
func TestTraceAcrossBatchesAndHours(t *testing.T) {
	s := open(t, t.TempDir(), Options{})
	defer s.Close()
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Hour).Add(59 * time.Minute)
	root := mk(7, 1, 0, "web", "get", model.Server, t0, 2*time.Hour, nil)
	client := withRemote(mk(7, 2, 1, "web", "call", model.Client, t0.Add(time.Minute), time.Hour, nil), "db")
	commit(t, s, root)
	s.Flush()
	commit(t, s, client)
	s.Flush()
	s.Compact()
	commit(t, s, client) // the retry, after the hour was indexed
	sp, err := s.Trace(model.TraceID{Low: 7})
	if err != nil || len(sp) != 2 {
		t.Fatalf("trace: %v, %d spans", err, len(sp))
	}
	links := s.Dependencies(time.Now().UnixMilli(), 24*3600*1000)
	if len(links) != 1 || links[0] != (DependencyLink{Parent: "web", Child: "db", CallCount: 1}) {
		t.Fatalf("links %+v", links)
	}
}

func TestMigratesV1Fixture(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "traces")
	if err := os.CopyFS(dir, os.DirFS("testdata/v1/traces")); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, Options{})
	if left, _ := filepath.Glob(filepath.Join(dir, "spans-*.ndjson")); len(left) != 0 {
		t.Fatalf("day files left: %v", left)
	}
	end := time.Date(2025, 11, 26, 0, 0, 0, 0, time.UTC)
	check := func() {
		for id, want := range map[model.TraceID]int{{Low: 0x100}: 3, {High: 0x463ac35c9f6413ad, Low: 0x48485a3953bb6124}: 1, {Low: 0x200}: 1, {Low: 0x300}: 0} {
			sp, err := s.Trace(id)
			if err != nil || len(sp) != want {
				t.Errorf("trace %s: %v, %d spans, want %d", id, err, len(sp), want)
			}
		}
		if got := s.Services(); !slices.Equal(got, []string{"recipe-api", "web-api", "worker"}) {
			t.Errorf("services %v", got)
		}
		if n := searchN(t, s, Query{ServiceName: "web-api"}, end); n != 2 {
			t.Errorf("web-api traces %d", n)
		}
		links := s.Dependencies(end.UnixMilli(), 7*24*3600*1000)
		b, _ := json.Marshal(links)
		if string(b) != `[{"parent":"web-api","child":"kafka","callCount":1,"errorCount":1},{"parent":"web-api","child":"recipe-api","callCount":1}]` {
			t.Errorf("links %s", b)
		}
	}
	check()
	s.Close()
	s = open(t, dir, Options{})
	defer s.Close()
	check()
}

// FuzzDecodeBlock: a block read back from a damaged disk is refused, never
// a panic or a huge allocation.
func FuzzDecodeBlock(f *testing.F) {
	rows := variedRows(20)
	buf, m, _ := encodeBlock(rows, func(s string) string { return s })
	f.Add(buf)
	f.Add(buf[:blockHeaderSize+int(m.sumLen)])
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < blockHeaderSize {
			return
		}
		m, _, err := parseHeader(b[:blockHeaderSize], nil, func(s string) string { return s })
		if err != nil || int64(len(b)) < blockHeaderSize+int64(m.sumLen) {
			return
		}
		m, _, err = parseHeader(b[:blockHeaderSize], b[blockHeaderSize:blockHeaderSize+int(m.sumLen)], func(s string) string { return s })
		if err != nil {
			return
		}
		rest := b[blockHeaderSize+int(m.sumLen):]
		if int64(len(rest)) < int64(m.colLen) {
			return
		}
		raw, err := zdec.DecodeAll(rest[:m.colLen], nil)
		if err != nil {
			return
		}
		decodeColumns(raw, m.minTS)
	})
}

// FuzzDecodeColumns feeds arbitrary bytes straight to the column decoder
// (what a bad checksum would otherwise have let through).
func FuzzDecodeColumns(f *testing.F) {
	rows := variedRows(5)
	buf, m, _ := encodeBlock(rows, func(s string) string { return s })
	raw, _ := zdec.DecodeAll(buf[blockHeaderSize+int(m.sumLen):blockHeaderSize+int(m.sumLen)+int(m.colLen)], nil)
	f.Add(raw)
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, lens, err := decodeColumns(b, 0)
		if err == nil && len(rows) != len(lens) {
			t.Fatalf("%d rows, %d lengths", len(rows), len(lens))
		}
	})
}
