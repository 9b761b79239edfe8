package traces

import (
	"encoding/json"
	"fmt"
	"net"
	"time"

	"github.com/openzipkin/zipkin-go/model"
)

// Span is a validated span with its canonical Zipkin v2 JSON, as an intake
// hands it to the store.
type Span struct {
	Model *model.SpanModel
	JSON  []byte
}

// Span kinds as stored (a byte per span).
const (
	kindNone uint8 = iota
	kindClient
	kindServer
	kindProducer
	kindConsumer
)

// Row flags.
const (
	flagShared uint8 = 1 << iota
	flagDebug
	flagError // has an "error" tag
)

func kindOf(k model.Kind) uint8 {
	switch k {
	case model.Client:
		return kindClient
	case model.Server:
		return kindServer
	case model.Producer:
		return kindProducer
	case model.Consumer:
		return kindConsumer
	}
	return kindNone
}

// endpoint is the identity of a local endpoint: Zipkin tells a shared
// server span from its client half, and merges spans sent in pieces, by it.
type endpoint struct {
	Service, IPv4, IPv6 string
	Port                uint16
}

func (e endpoint) empty() bool { return e == endpoint{} }

// row is one stored span: the fields that searches, trace assembly and the
// dependency linker look at, and the JSON that was acknowledged. Strings of
// a decoded block point into its dictionary; JSON is nil until the block's
// JSON section is read.
type row struct {
	TraceHi, TraceLo uint64
	ID, Parent       uint64
	Seq              uint64 // store-wide arrival order
	TS, Dur          int64  // microseconds; TS 0: none
	Kind, Flags      uint8
	Name             string
	Local            endpoint
	Remote           string // remote service name
	TagK, TagV       []string
	Annos            []string // annotation values
	JSON             []byte
}

func (r *row) shared() bool  { return r.Flags&flagShared != 0 }
func (r *row) isError() bool { return r.Flags&flagError != 0 }

func ipString(ip []byte) string {
	if len(ip) == 0 {
		return ""
	}
	return net.IP(ip).String()
}

// rowOf takes what the store indexes from a decoded span.
func rowOf(m *model.SpanModel, js []byte, seq uint64) row {
	r := row{TraceHi: m.TraceID.High, TraceLo: m.TraceID.Low, ID: uint64(m.ID), Seq: seq,
		Dur: m.Duration.Microseconds(), Kind: kindOf(m.Kind), Name: m.Name, JSON: js}
	if m.ParentID != nil {
		r.Parent = uint64(*m.ParentID)
	}
	if !m.Timestamp.IsZero() {
		r.TS = m.Timestamp.UnixMicro()
	}
	if m.Shared {
		r.Flags |= flagShared
	}
	if m.Debug {
		r.Flags |= flagDebug
	}
	if e := m.LocalEndpoint; e != nil {
		r.Local = endpoint{Service: e.ServiceName, IPv4: ipString(e.IPv4), IPv6: ipString(e.IPv6), Port: e.Port}
	}
	if e := m.RemoteEndpoint; e != nil {
		r.Remote = e.ServiceName
	}
	if n := len(m.Tags); n > 0 {
		kv := make([]string, 2*n) // one allocation for keys and values
		r.TagK, r.TagV = kv[:0:n], kv[n:n:2*n]
		for k, v := range m.Tags {
			r.TagK = append(r.TagK, k)
			r.TagV = append(r.TagV, v)
			if k == "error" {
				r.Flags |= flagError
			}
		}
	}
	if len(m.Annotations) > 0 {
		r.Annos = make([]string, len(m.Annotations))
		for i, a := range m.Annotations {
			r.Annos[i] = a.Value
		}
	}
	return r
}

// spanFromJSON reads a stored span back (WAL replay, migration).
func spanFromJSON(js []byte) (Span, error) {
	var m model.SpanModel
	if err := json.Unmarshal(js, &m); err != nil {
		return Span{}, fmt.Errorf("stored span: %w", err)
	}
	return Span{Model: &m, JSON: js}, nil
}

func rowFromJSON(js []byte, seq uint64) (row, error) {
	sp, err := spanFromJSON(js)
	if err != nil {
		return row{}, err
	}
	return rowOf(sp.Model, js, seq), nil
}

// spanBytes is what a queued span costs in memory: its JSON, the decoded
// model and its tag map.
func spanBytes(s *Span) int64 {
	n := int64(len(s.JSON))*2 + 256
	return n + int64(len(s.Model.Tags))*64
}

func hourOf(us int64) int64 {
	if us <= 0 {
		us = time.Now().UnixMicro()
	}
	return us / 3_600_000_000
}
