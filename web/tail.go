package web

import (
	"sync"
	"sync/atomic"

	"github.com/obs-dev/obs/store/logs"
)

// TailHub fans stored log events out to live-tail subscribers. Each
// subscriber filters with its own compiled query; a subscriber that cannot
// keep up loses events (counted and told), never slowing the store's writer.
type TailHub struct {
	mu   sync.RWMutex
	subs map[*tailSub]struct{}
}

type tailSub struct {
	match   logs.Matcher
	ch      chan []byte
	dropped atomic.Int64
}

// NewTailHub returns an empty hub.
func NewTailHub() *TailHub { return &TailHub{subs: map[*tailSub]struct{}{}} }

// Publish is called by the store after each searchable batch.
func (h *TailHub) Publish(batch []logs.Entry) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.subs) == 0 {
		return
	}
	// Events reach the store as bytes (the store reads their fields only
	// when it seals a block): read each once here for every subscriber.
	fields := make([][]logs.Field, len(batch))
	for i := range batch {
		if fields[i] = batch[i].Fields; fields[i] == nil {
			if f, err := logs.Flatten(batch[i].Raw); err == nil {
				fields[i] = f
			} else {
				fields[i] = []logs.Field{}
			}
		}
	}
	for s := range h.subs {
		for i := range batch {
			e := &batch[i]
			if !s.match.MatchFields(fields[i]) {
				continue
			}
			select {
			case s.ch <- e.Raw:
			default:
				s.dropped.Add(1)
			}
		}
	}
}

func (h *TailHub) subscribe(m logs.Matcher) *tailSub {
	s := &tailSub{match: m, ch: make(chan []byte, 4096)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *TailHub) unsubscribe(s *tailSub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}
