package esread

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Error is what Elasticsearch or OpenSearch answered instead of a result:
// the HTTP status and the error object's type and reason (from the root
// cause when there is one), or the failures of the shards that failed.
type Error struct {
	Status int
	Type   string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Type != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Type)
	}
	if e.Reason != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Reason)
	}
	return b.String()
}

// errorBody is the error object of an answer: {"error": {"type", "reason",
// "root_cause": [...]}, "status"}; before 5.0 (and from some proxies)
// "error" is a plain string.
type errorBody struct {
	Error  json.RawMessage `json:"error"`
	Status int             `json:"status"`
}

type errorObject struct {
	Type      string        `json:"type"`
	Reason    string        `json:"reason"`
	RootCause []errorObject `json:"root_cause"`
	// CausedBy is where a search_phase_execution_exception ("all shards
	// failed") keeps the shard's own error.
	CausedBy *errorObject `json:"caused_by"`
}

// parseError reads an error answer of status; a body that is not an
// error object keeps its first bytes as the reason, so the message still
// says what the server (or a proxy in front of it) said.
func parseError(status int, body []byte) *Error {
	e := &Error{Status: status}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && len(eb.Error) > 0 {
		var o errorObject
		var s string
		switch {
		case json.Unmarshal(eb.Error, &o) == nil && (o.Type != "" || o.Reason != ""):
			e.Type, e.Reason = o.Type, o.Reason
			// The top-level reason of "all shards failed" says nothing of
			// why; the cause does.
			if c := o.CausedBy; c != nil && c.Reason != "" {
				e.Reason += ": " + c.Type + ": " + c.Reason
			} else if len(o.RootCause) > 0 && o.RootCause[0].Reason != "" && o.RootCause[0].Reason != o.Reason {
				e.Reason += ": " + o.RootCause[0].Type + ": " + o.RootCause[0].Reason
			}
			return e
		case json.Unmarshal(eb.Error, &s) == nil:
			e.Reason = s
			return e
		}
	}
	text := string(bytes.TrimSpace(body))
	if len(text) > 512 {
		text = text[:512] + "..."
	}
	e.Reason = text
	return e
}

// shards is the _shards header of a search or count answer.
type shards struct {
	Total    int `json:"total"`
	Failed   int `json:"failed"`
	Failures []struct {
		Index string `json:"index"`
		Shard int    `json:"shard"`
		// Reason is an error object from 5.0, a string before.
		Reason json.RawMessage `json:"reason"`
	} `json:"failures"`
}

// check makes failed shards an error: an answer missing some shards'
// events would make a count or a page silently short.
func (s shards) check() error {
	if s.Failed == 0 {
		return nil
	}
	e := &Error{Type: "shard_failure", Reason: fmt.Sprintf("%d of %d shards failed", s.Failed, s.Total)}
	if len(s.Failures) > 0 {
		f := s.Failures[0]
		why := string(f.Reason)
		var o errorObject
		var str string
		if json.Unmarshal(f.Reason, &o) == nil && o.Type != "" {
			why = o.Type + ": " + o.Reason
		} else if json.Unmarshal(f.Reason, &str) == nil {
			why = str
		}
		e.Reason += fmt.Sprintf(" (index %s shard %d: %s)", f.Index, f.Shard, why)
	}
	return e
}

// total is hits.total: {"value", "relation"} from Elasticsearch 7 and
// OpenSearch, a plain number before (and with rest_total_hits_as_int).
type total struct {
	Value    int64
	Relation string
}

func (t *total) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			Value    int64  `json:"value"`
			Relation string `json:"relation"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		t.Value, t.Relation = o.Value, o.Relation
		return nil
	}
	t.Relation = "eq"
	return json.Unmarshal(b, &t.Value)
}

// hit is one of hits.hits.
type hit struct {
	Index  string            `json:"_index"`
	ID     string            `json:"_id"`
	Source json.RawMessage   `json:"_source"`
	Sort   []json.RawMessage `json:"sort"`
}

// bucket is one date_histogram bucket: key is epoch milliseconds (a float
// in some versions' answers, 1.4e12 written as 1.4E12), key_as_string the
// same instant formatted.
type bucket struct {
	Key         json.Number `json:"key"`
	KeyAsString string      `json:"key_as_string"`
	DocCount    int64       `json:"doc_count"`
}

// searchResponse is the part of a _search answer obs reads.
type searchResponse struct {
	TimedOut bool   `json:"timed_out"`
	Shards   shards `json:"_shards"`
	Hits     struct {
		Total *total `json:"total"`
		Hits  []hit  `json:"hits"`
	} `json:"hits"`
	Aggregations map[string]struct {
		Buckets []bucket `json:"buckets"`
	} `json:"aggregations"`
}

// countResponse is a _count answer.
type countResponse struct {
	Count  *int64 `json:"count"`
	Shards shards `json:"_shards"`
}

// decodeSearch reads a 200 answer of _search; failed shards and a
// timed-out search are errors (their answers are partial).
func decodeSearch(body []byte) (*searchResponse, error) {
	var r searchResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("answer is not a search response: %w", err)
	}
	if err := r.Shards.check(); err != nil {
		return nil, err
	}
	if r.TimedOut {
		return nil, &Error{Type: "timed_out", Reason: "the search timed out and returned partial results"}
	}
	for i, h := range r.Hits.Hits {
		if len(h.Sort) == 0 {
			return nil, fmt.Errorf("hit %d (%s): no sort values", i, h.ID)
		}
		if len(h.Source) == 0 || string(h.Source) == "null" {
			return nil, fmt.Errorf("hit %d (%s): no _source (is _source disabled in the index mapping?)", i, h.ID)
		}
	}
	return &r, nil
}

// decodeCount reads a 200 answer of _count.
func decodeCount(body []byte) (int64, error) {
	var r countResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("answer is not a count response: %w", err)
	}
	if err := r.Shards.check(); err != nil {
		return 0, err
	}
	if r.Count == nil {
		return 0, errors.New("answer has no count")
	}
	return *r.Count, nil
}
