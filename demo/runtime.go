package demo

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/obs-dev/obs/send"
)

// reportRuntime sends the seed's process gauges and event-loop lag (its
// setInterval every 10 s), measured on this process as the nearest Go
// equivalent of what Node reports:
//   - server.conn: web-api's open connections (server._connections);
//   - server.memory.used/total: heap in use and heap obtained from the OS
//     (process.memoryUsage() heapUsed/heapTotal);
//   - server.heap.size/limit: heap spans in use, and the soft memory limit
//     or, without one, the heap size at which the next GC runs (V8's
//     used_heap_size/heap_size_limit);
//   - server.descriptors: entries in /proc/self/fd, as the seed reads;
//   - eventlag: how late a timer set for now fires (setTimeout(fn, 0)).
func reportRuntime(sd send.StatsD, conns int64) {
	sd.Gauge("server.conn", float64(conns))
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	sd.Gauge("server.memory.used", float64(m.HeapAlloc))
	sd.Gauge("server.memory.total", float64(m.HeapSys))
	sd.Gauge("server.heap.size", float64(m.HeapInuse))
	limit := debug.SetMemoryLimit(-1)
	if limit == math.MaxInt64 {
		limit = int64(m.NextGC)
	}
	sd.Gauge("server.heap.limit", float64(limit))
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		sd.Gauge("server.descriptors", float64(len(fds)))
	}
	begin := time.Now()
	fired := make(chan struct{})
	time.AfterFunc(0, func() { close(fired) })
	<-fired
	sd.Timing("eventlag", time.Since(begin))
}
