// Package bench holds the load benchmarks behind BENCHMARKS.md: real
// sockets, real stores on disk, the sender on the same box.
package bench

import (
	"fmt"
	"time"
)

var (
	apps       = []string{"web-api", "recipe-api", "auth-api", "search-api"}
	severities = []string{"info", "info", "info", "info", "debug", "warn", "error"}
	paths      = []string{"/recipes/42", "/recipes", "/health", "/login", "/search?q=pasta", "/recipes/7"}
	methods    = []string{"GET", "GET", "POST", "PUT"}
)

// SeedEvent is an event shaped like the seed's logstash.js output.
func SeedEvent(buf []byte, i int, ts time.Time) []byte {
	return fmt.Appendf(buf[:0], `{"@timestamp":"%s","@version":1,"app":"%s","environment":"development","severity":"%s","type":"request","fields":{"path":"%s","method":"%s","status":%d,"latency_ms":%d,"request_id":"req-%08x"},"host":"dev-box-%d"}`,
		ts.UTC().Format("2006-01-02T15:04:05.000Z"), apps[i%len(apps)], severities[(i/3)%len(severities)],
		paths[(i/5)%len(paths)], methods[(i/7)%len(methods)], statusFor(i), (i*37)%900+3, i, i%3)
}

func statusFor(i int) int {
	switch {
	case i%97 == 0:
		return 500
	case i%31 == 0:
		return 404
	}
	return 200
}

// VariedEvent is a realistic ~300-byte request event whose values vary as a
// real service's do (paths, users, request ids, latencies, statuses), so
// that compression and indexing are measured on data like a user's, not on
// near-identical lines.
func VariedEvent(buf []byte, i int, ts time.Time) []byte {
	h := mix(uint64(i))
	sev := "info"
	switch r := h % 100; {
	case r < 7:
		sev = "error"
	case r < 18:
		sev = "warn"
	case r < 30:
		sev = "debug"
	}
	status := 200 + int(h>>60)%2
	switch sev {
	case "error":
		status = 500 + int(h>>8)%4
	case "warn":
		status = 400 + int(h>>8)%5
	}
	path := (h >> 36) % 5000
	ms := (h >> 44) % 900
	m := methods[(h>>32)%uint64(len(methods))]
	return fmt.Appendf(buf[:0], `{"@timestamp":"%s","@version":1,"app":"%s","environment":"production","severity":"%s","type":"request","fields":{"path":"/recipes/%d","status":%d,"ms":%d,"method":"%s","user":"u%d"},"message":"%s /recipes/%d %d %dms request_id=%012x","host":"node-%d"}`,
		ts.UTC().Format("2006-01-02T15:04:05.000Z"), apps[(h>>16)%uint64(len(apps))], sev, path, status, ms, m,
		(h>>20)%100000, m, path, status, ms, h&0xffffffffffff, (h>>24)%40)
}

// mix is a 64-bit finaliser (splitmix): event i's values, reproducibly.
func mix(i uint64) uint64 {
	i ^= i >> 33
	i *= 0xff51afd7ed558ccd
	i ^= i >> 33
	i *= 0xc4ceb9fe1a85ec53
	i ^= i >> 33
	return i
}
