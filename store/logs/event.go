// Package logs stores log events on disk, one partition per UTC day, and
// answers searches, counts and histograms over them.
//
// Events are kept in columnar blocks of up to BlockSize events (split.go,
// build.go, codec.go): per block, each distinct event shape once and, per
// field path, a column of the values' exact spellings (constant,
// dictionary, numbers, timestamps, or plain with a bloom filter), from
// which every event is rebuilt byte for byte. Counts and histograms read
// only the columns a query names and never parse event JSON; dictionaries
// and bloom filters rule blocks out unread. The newest events of a day live
// in an in-memory head backed by a write-ahead log until they fill a block;
// full heads are sealed into blocks on worker goroutines (seal.go).
package logs

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is the JSON type of a flattened leaf value.
type Kind uint8

const (
	KindString Kind = iota
	KindNumber
	KindBool
	KindNull
)

// Field is one flattened leaf of an event: objects become dotted paths,
// arrays repeat the path once per element.
type Field struct {
	Path string
	Kind Kind
	// Str is the value's text: the string itself, the number as sent, "true"/"false".
	Str string
	Num float64
}

// Entry is one log event ready to store.
type Entry struct {
	// TS is the event's @timestamp; it decides the day partition.
	TS time.Time
	// Raw is the event's JSON exactly as it is stored and returned.
	Raw []byte
	// Fields are the flattened leaves of Raw; nil means "flatten Raw".
	Fields []Field
}

// ID names one stored event; it does not change when the head becomes a block.
type ID struct {
	Day   string // logs-YYYY.MM.DD
	Block uint32
	Row   uint16
}

func (id ID) String() string { return fmt.Sprintf("%s/%d/%d", id.Day, id.Block, id.Row) }

// ParseID is the inverse of ID.String.
func ParseID(s string) (ID, error) {
	var id ID
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return id, fmt.Errorf("event id %q: want day/block/row", s)
	}
	var blk, row uint64
	if _, err := fmt.Sscanf(parts[1]+" "+parts[2], "%d %d", &blk, &row); err != nil {
		return id, fmt.Errorf("event id %q: %w", s, err)
	}
	id.Day, id.Block, id.Row = parts[0], uint32(blk), uint16(row)
	return id, nil
}

// Hit is one search result.
type Hit struct {
	ID  ID
	TS  time.Time
	Raw json.RawMessage
}

// textFields are always full-text searchable, whatever their length.
var textFields = map[string]bool{"message": true, "msg": true, "error": true, "err": true,
	"stack": true, "stack_trace": true, "description": true, "text": true, "log": true}

// IsText says whether a string field is also tokenized for full-text search:
// the usual message fields, and any value that reads like prose (has a space).
func IsText(path, s string) bool {
	return textField(path) || strings.ContainsAny(s, " \t\n")
}

// textField says whether every string of path is text, whatever it holds.
func textField(path string) bool { return textFields[lastSegment(path)] }

func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// Tokens splits text into lower-cased words, as a standard analyzer would.
func Tokens(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		word := unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'
		if word && start < 0 {
			start = i
		}
		if !word && start >= 0 {
			out = append(out, strings.ToLower(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, strings.ToLower(s[start:]))
	}
	return out
}

// validUTF8 replaces invalid bytes so that index keys stay valid strings.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
