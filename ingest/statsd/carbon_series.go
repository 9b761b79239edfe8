package statsd

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// carbonSeries is one path as the TSDB knows it: its labels, built once,
// and the head's reference to it, so that a known path is appended
// without building, hashing or looking up labels.
type carbonSeries struct {
	lset labels.Labels
	ref  atomic.Uint64 // storage.SeriesRef; 0 until the first append
}

// carbonIndex maps raw paths (tags as sent) to series, and enforces the
// distinct-name cap. Its entries are all admitted names, so a path found
// here needs no other check.
type carbonIndex struct {
	mu       sync.RWMutex
	paths    map[string]*carbonSeries
	names    map[string]struct{}
	maxNames int
	// maxPaths bounds the cache: tag values are not capped, so distinct
	// paths under admitted names are not either; past the bound the cache
	// starts over (the names stay).
	maxPaths int
}

func newCarbonIndex(maxNames int) *carbonIndex {
	return &carbonIndex{paths: map[string]*carbonSeries{}, names: map[string]struct{}{},
		maxNames: maxNames, maxPaths: 4 * maxNames}
}

// outcome of resolving a path
const (
	pathOK = iota
	pathBad
	pathRejected
)

// add parses a path the index has not seen, admits its name under the
// cap and remembers it.
func (x *carbonIndex) add(path []byte) (*carbonSeries, int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s := x.paths[string(path)]; s != nil {
		return s, pathOK // another connection added it meanwhile
	}
	key := string(path)
	name, tags, err := carbonTags(key)
	if err != nil {
		return nil, pathBad
	}
	if _, ok := x.names[name]; !ok {
		if len(x.names) >= x.maxNames {
			return nil, pathRejected
		}
		x.names[name] = struct{}{}
	}
	var b labels.ScratchBuilder
	b.Add(labels.MetricName, name)
	for _, t := range tags {
		b.Add(t.Name, t.Value)
	}
	b.Sort()
	if len(x.paths) >= x.maxPaths {
		clear(x.paths)
	}
	s := &carbonSeries{lset: b.Labels()}
	x.paths[key] = s
	return s, pathOK
}

// carbonPoint is one parsed line of a batch; its path is paths[start:end]
// of the batch.
type carbonPoint struct {
	start, end int
	ts         int64 // unix ms
	v          float64
}

// carbonBatch collects a connection's lines (a TCP read's worth, at most
// carbonBatchLines, or one UDP datagram) and appends them to the TSDB in
// one transaction. Its buffers are reused: a steady stream of known
// series allocates nothing.
type carbonBatch struct {
	now    int64  // unix seconds, taken at the batch's first line; 0 before
	paths  []byte // the lines' paths, copied out of the read buffer
	points []carbonPoint
	series []*carbonSeries
	bad    int
}

const carbonBatchLines = 1000

func (b *carbonBatch) add(line []byte) {
	if b.now == 0 {
		b.now = time.Now().Unix()
	}
	path, v, ts, err := parseCarbonLine(line, b.now)
	if err != nil {
		b.bad++
		return
	}
	start := len(b.paths)
	b.paths = append(b.paths, path...)
	b.points = append(b.points, carbonPoint{start: start, end: len(b.paths), ts: ts, v: v})
}

func (b *carbonBatch) full() bool { return len(b.points) >= carbonBatchLines }

// flush resolves the batch's paths (one read lock for the known ones),
// appends the samples in one transaction and counts the outcome.
func (c *Carbon) flush(ctx context.Context, b *carbonBatch) {
	if b.bad > 0 {
		c.bad.Add(float64(b.bad))
	}
	if len(b.points) == 0 {
		b.reset()
		return
	}
	b.series = b.series[:0]
	missing := false
	c.index.mu.RLock()
	for _, p := range b.points {
		s := c.index.paths[string(b.paths[p.start:p.end])]
		missing = missing || s == nil
		b.series = append(b.series, s)
	}
	c.index.mu.RUnlock()
	bad, rejected := 0, 0
	if missing {
		for i, p := range b.points {
			if b.series[i] != nil {
				continue
			}
			s, outcome := c.index.add(b.paths[p.start:p.end])
			switch outcome {
			case pathBad:
				bad++
			case pathRejected:
				rejected++
			}
			b.series[i] = s
		}
	}
	app := c.Sink.Appender(ctx)
	for i, p := range b.points {
		s := b.series[i]
		if s == nil {
			continue
		}
		old := storage.SeriesRef(s.ref.Load())
		// Refused samples are counted by the store.
		if ref, err := app.Append(old, s.lset, p.ts, p.v); err == nil && ref != old {
			s.ref.Store(uint64(ref))
		}
	}
	app.Commit()
	if bad > 0 {
		c.bad.Add(float64(bad))
	}
	if rejected > 0 {
		c.rejected.Add(float64(rejected))
	}
	c.good.Add(float64(len(b.points) - bad - rejected))
	b.reset()
}

func (b *carbonBatch) reset() {
	b.paths, b.points, b.bad, b.now = b.paths[:0], b.points[:0], 0, 0
	clear(b.series) // let the cache drop series it forgets
	b.series = b.series[:0]
}
