package sender

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/store/remote/endpoint"
	"github.com/obs-dev/obs/store/remote/queue"
)

// Queued is a forwarder whose records are whole requests' worth of items
// encoded by the owner (spans, log events): Append queues one record, and
// the rest (sending, durability, figures) is the Sender's. Forwarders
// embed it and add only their encoding.
type Queued struct {
	name string
	q    *queue.Queue
	s    *Sender

	mu     sync.RWMutex
	closed bool
}

// OpenQueued opens the queue in dir and its sender (see Open).
func OpenQueued(dir string, e endpoint.Config, qo queue.Options, c Config) (*Queued, error) {
	s, q, err := Open(dir, e, qo, c)
	if err != nil {
		return nil, err
	}
	return &Queued{name: c.Name, q: q, s: s}, nil
}

// Append queues count items encoded in data and returns once the record is
// written (the OS has it: an obs crash loses none; Run makes it durable
// within SyncEvery). A failure is counted as a drop before the queue.
func (f *Queued) Append(count int, data []byte) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return fmt.Errorf("%s: closed", f.name)
	}
	if err := f.q.Append(count, data); err != nil {
		reason := QueueError
		if errors.Is(err, queue.ErrTooBig) {
			reason = TooBig
		}
		f.s.DroppedBeforeQueue(reason, count, err)
		return fmt.Errorf("%s: queue %d %s: %w", f.name, count, f.s.c.Unit, err)
	}
	f.s.Queued(count)
	return nil
}

// Run sends the queue until ctx ends (the owner's goroutine) and makes it
// durable every SyncEvery.
func (f *Queued) Run(ctx context.Context) { f.s.Run(ctx) }

// Close makes the queue durable; what is unsent is sent by the next run.
func (f *Queued) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return f.q.Close()
}

// Stats returns the forwarder's figures.
func (f *Queued) Stats() Stats { return f.s.Stats(0) }

// Health is the forwarder's /health probe.
func (f *Queued) Health() (status, detail string) { return f.s.Health(0) }

// Collectors are the forwarder's metrics for /metrics.
func (f *Queued) Collectors() []prometheus.Collector {
	return f.s.Collectors(func() int64 { return 0 })
}
