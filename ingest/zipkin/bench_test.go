package zipkin

import (
	"fmt"
	"testing"
)

// variedBatch is 100 v2 spans of varied traces, ~450 bytes each.
func variedBatch() []byte {
	b := []byte{'['}
	for i := 0; i < 100; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"traceId":"%016x","id":"%016x","parentId":"%016x","kind":"CLIENT","name":"get /recipes/{id}","timestamp":%d,"duration":%d,`+
			`"localEndpoint":{"serviceName":"web-api","ipv4":"10.0.1.%d"},"remoteEndpoint":{"serviceName":"recipe-api","ipv4":"10.0.2.%d","port":8080},`+
			`"tags":{"http.method":"GET","http.path":"/recipes/%d","http.status_code":"200","user":"u%d"}}`,
			uint64(i+1)*0x9e3779b97f4a7c15, uint64(i)*0xc4ceb9fe1a85ec53|1, uint64(i)*0xff51afd7ed558ccd|1, 1_700_000_000_000_000+i*977, 200+i*131, i%200, i%100, i*37%5000, i*7919%20000)
	}
	return append(b, ']')
}

func BenchmarkDecodeV2(b *testing.B) {
	body := variedBatch()
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, err := DecodeV2JSON(body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/span")
}
