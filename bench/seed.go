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
