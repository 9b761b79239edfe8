package traces

import (
	"fmt"
	"testing"
	"time"

	"github.com/openzipkin/zipkin-go/model"
)

// variedRows is n spans of distinct traces with varied names, tags and
// durations (see bench/traces_test.go for the HTTP-level generator).
func variedRows(n int) []row {
	svcs := []string{"web-api", "recipe-api", "profile-api", "auth-api", "search-api", "cart-api"}
	out := make([]row, n)
	for i := range out {
		h := traceHash(uint64(i))
		m := &model.SpanModel{SpanContext: model.SpanContext{TraceID: model.TraceID{Low: traceHash(uint64(i / 6))}, ID: model.ID(h | 1)},
			Name: fmt.Sprintf("get /recipes/%d", h%7), Kind: model.Server, Timestamp: time.UnixMicro(1_700_000_000_000_000 + int64(i)*37),
			Duration: time.Duration(h%250000) * time.Microsecond, LocalEndpoint: &model.Endpoint{ServiceName: svcs[h%6], IPv4: []byte{10, 0, byte(h >> 8), byte(h >> 16)}},
			Tags: map[string]string{"http.method": "GET", "http.path": fmt.Sprintf("/recipes/%d", h%5000), "http.status_code": "200", "user": fmt.Sprintf("u%d", h%20000)}}
		js, _ := m.MarshalJSON()
		out[i] = rowOf(m, js, uint64(i+1))
	}
	return out
}

// BenchmarkEncodeBlock is sealing a head of 1,024 varied spans into a
// block (columns, summary, zstd).
func BenchmarkEncodeBlock(b *testing.B) {
	rows := variedRows(blockSpans)
	intern := func(s string) string { return s }
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		buf, _, _ := encodeBlock(rows, intern)
		size = len(buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/span")
	b.ReportMetric(float64(size)/float64(len(rows)), "bytes/span")
}

// BenchmarkDecodeColumns is reading a block's columns back (searches).
func BenchmarkDecodeColumns(b *testing.B) {
	rows := variedRows(blockSpans)
	buf, m, _ := encodeBlock(rows, func(s string) string { return s })
	raw, err := zdec.DecodeAll(buf[blockHeaderSize+int(m.sumLen):blockHeaderSize+int(m.sumLen)+int(m.colLen)], nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := decodeColumns(raw, m.minTS); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/span")
}

// BenchmarkLinkTrace is the dependency linker on DependencyLinkerTest's
// 4-span trace, reusing its scratch space as the linker goroutine does.
func BenchmarkLinkTrace(b *testing.B) {
	tr := rows(linkerTrace)
	m := map[linkKey]linkCount{}
	l := newLinker()
	for i := 0; i < b.N; i++ {
		l.link(tr, 1, m)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tr)), "ns/span")
}
