// Package logsql compiles KQL into a VictoriaLogs LogsQL filter that matches
// the events obs's own evaluator (package kql) matches, as far as LogsQL can
// say it, plus the pipes Discover needs (hits, count, histogram, a field's
// top values).
//
// Events reach VictoriaLogs as obs forwards them: JSON objects flattened to
// dotted field names, the message field stored as _msg and @timestamp as
// _time (Options.MessageField, Options.TimeField), arrays kept as their
// JSON text, nulls dropped.
//
// How obs's KQL semantics map (the evaluator is the reference):
//
//   - field:value matches when the whole value is the text (case-sensitive:
//     ="v"), when it is the same number (range[v, v]), when it is an
//     element of an array (a regexp on the array's JSON), or, for text, when
//     a word of the value is a word of the field (i("w"), case-insensitive,
//     any of the value's words). Text is what obs tokenizes: fields named
//     message, msg, error, err, stack, stack_trace, description, text, log,
//     and any value holding a space, tab or newline; the latter is checked
//     with ~"[ \t\n]". A quoted value of several words must appear as those
//     words in that order (a case-insensitive regexp over word boundaries:
//     obs ignores the punctuation between words, LogsQL's phrase filter does
//     not).
//   - Wildcards: the whole value against the pattern, case-sensitive
//     (="p"* or a regexp), or for text any word against it (i("p"*) or a
//     regexp).
//   - field:* is "has a value" (field:*). LogsQL cannot tell an empty string
//     from a missing field: obs's field:* matches "" and LogsQL's does not,
//     and field:"" matches missing fields in LogsQL and not in obs.
//   - Free text matches any field in obs; LogsQL filters one field, _msg by
//     default. With Options.Fields (the store's field names, from its
//     field_names endpoint) free text becomes an OR over all of them; without,
//     it searches _msg alone. Wildcard field names (fields.*:x) expand over
//     Options.Fields the same way and are an error without them.
//   - Ranges: on the time field, _time:>t with date math resolved against
//     Options.Now (rounding as Elasticsearch does); numeric values compare
//     numerically (LogsQL's range also takes numeric strings, obs only JSON
//     numbers); others compare as strings (string_range; obs compares values
//     that parse as dates by time, LogsQL by their text).
//   - The time field: a value that reads as a date is that instant
//     (_time:[t, t]); obs compares @timestamp's text, so another spelling of
//     the same instant matches here and not there. Text and patterns on the
//     time field are an error (LogsQL has none on _time).
//   - VictoriaLogs' own field names keep their meaning: _msg is the
//     message and _time the time, however a query spells them; _stream and
//     _stream_id take only stream filters, so a query naming them is an
//     error (free text and wildcard field names leave them out).
//   - Nested groups (a:{ ... }) are their inner query with full field names:
//     neither obs nor VictoriaLogs keeps nested documents.
//   - Case: obs and LogsQL agree (exact and patterns case-sensitive, words
//     not), but VictoriaLogs stores a missing _msg as a fixed placeholder
//     text that free text can match.
package logsql

import (
	"fmt"
	"strings"
	"time"

	"github.com/obs-dev/obs/query/kql"
)

// Options say how obs's events are stored in VictoriaLogs.
type Options struct {
	// Fields are the store's field names as obs names them (message, not
	// _msg). Free text searches all of them and wildcard field names match
	// among them; nil means free text searches the message only.
	Fields []string
	// MessageField is stored as _msg, TimeField as _time; defaults
	// "message" and "@timestamp".
	MessageField, TimeField string
	// Now resolves date math (now-15m) in ranges; zero means time.Now().
	Now time.Time
}

// errorAt is a construct the target cannot express.
func errorAt(pos int, n kql.Node, msg string) error {
	return &kql.CompileError{Target: "LogsQL", Pos: pos, Construct: n.String(), Msg: msg}
}

// Compile parses a KQL query and compiles it to a LogsQL filter.
func Compile(q string, opts Options) (string, error) {
	n, err := kql.Parse(q)
	if err != nil {
		return "", fmt.Errorf("KQL to LogsQL: %w", err)
	}
	return Filter(n, opts)
}

// Filter compiles a parsed query to a LogsQL filter.
func Filter(n kql.Node, opts Options) (string, error) {
	if opts.MessageField == "" {
		opts.MessageField = "message"
	}
	if opts.TimeField == "" {
		opts.TimeField = "@timestamp"
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	e, err := compiler{opts: opts}.node(n)
	if err != nil {
		return "", err
	}
	return render(e), nil
}

type compiler struct{ opts Options }

// Filters are built as a small tree, rendered once: nested ANDs and ORs
// flatten, and groups get parentheses only inside other filters.
type expr interface {
	render(b *strings.Builder, top bool)
}

// leaf is one field filter, written out.
type leaf string

type group struct {
	op   string // " AND " or " OR "
	kids []expr
}

type neg struct{ e expr }

func (l leaf) render(b *strings.Builder, _ bool) { b.WriteString(string(l)) }

func (g group) render(b *strings.Builder, top bool) {
	if !top {
		b.WriteByte('(')
	}
	for i, k := range g.kids {
		if i > 0 {
			b.WriteString(g.op)
		}
		k.render(b, false)
	}
	if !top {
		b.WriteByte(')')
	}
}

func (n neg) render(b *strings.Builder, _ bool) {
	b.WriteString("NOT ")
	n.e.render(b, false)
}

func render(e expr) string {
	var b strings.Builder
	e.render(&b, true)
	return b.String()
}

// everything matches every event: VictoriaLogs gives each one a _msg.
const everything = leaf("*")

// nothing is a filter no event matches.
var nothing expr = neg{everything}

func anyOf(es ...expr) expr { return combine(" OR ", es, nothing) }
func allOf(es ...expr) expr { return combine(" AND ", es, everything) }

// combine joins filters with op, taking in the kids of groups of the same
// op; empty is what no filters at all mean.
func combine(op string, es []expr, empty expr) expr {
	var kids []expr
	for _, e := range es {
		if g, ok := e.(group); ok && g.op == op {
			kids = append(kids, g.kids...)
		} else {
			kids = append(kids, e)
		}
	}
	switch len(kids) {
	case 0:
		return empty
	case 1:
		return kids[0]
	}
	return group{op: op, kids: kids}
}

func (c compiler) node(n kql.Node) (expr, error) {
	switch t := n.(type) {
	case kql.MatchAll:
		return everything, nil
	case kql.And:
		kids, err := c.nodes(t.Nodes)
		return allOf(kids...), err
	case kql.Or:
		kids, err := c.nodes(t.Nodes)
		return anyOf(kids...), err
	case kql.Not:
		kid, err := c.node(t.Node)
		return neg{kid}, err
	case kql.Nested:
		return c.node(t.Query)
	case kql.Term:
		return c.term(t)
	case kql.Range:
		return c.rangeFilter(t)
	}
	return nil, fmt.Errorf("KQL to LogsQL: unknown node %T", n)
}

func (c compiler) nodes(ns []kql.Node) ([]expr, error) {
	out := make([]expr, 0, len(ns))
	for _, n := range ns {
		e, err := c.node(n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ref is how a LogsQL filter names an obs field.
func (c compiler) ref(field string) string {
	switch {
	case field == c.opts.MessageField || field == "_msg":
		return "_msg"
	case c.isTime(field):
		return "_time"
	}
	return quote(field)
}

// isTime says whether a field is the time: obs's time field, or _time,
// which VictoriaLogs reads as its own whatever the quoting.
func (c compiler) isTime(field string) bool { return field == c.opts.TimeField || field == "_time" }

// streamFields are VictoriaLogs' stream fields, which take only its stream
// filters: no KQL value compiles to one.
var streamFields = map[string]bool{"_stream": true, "_stream_id": true}

// quote writes a string as a Go-quoted token, which LogsQL reads with
// strconv.Unquote: any text, keywords and special characters included.
func quote(s string) string { return fmt.Sprintf("%q", s) }

// fields are the obs fields a field literal stands for (all for free text
// and "*"), as obs's evaluator picks them. explicit says the literal names
// one field itself: a field that cannot take the filter is then an error,
// where an expansion leaves it out.
func (c compiler) fields(lit kql.Literal, free bool, n kql.Node) (fields []string, explicit bool, err error) {
	all := free && lit.Text == "" || !free && (lit.Text == "" && !lit.Wildcard() || lit.OnlyStars())
	switch {
	case free && !all:
		// Free text inside a nested group: obs looks for a field named
		// "path." and finds none.
		return nil, false, nil
	case all && c.opts.Fields == nil:
		return []string{c.opts.MessageField}, false, nil
	case all:
		fields = c.opts.Fields
	case !lit.Quoted && lit.Wildcard():
		if c.opts.Fields == nil {
			return nil, false, errorAt(lit.Pos, n, fmt.Sprintf("the wildcard field name %s needs the store's field names (Options.Fields)", lit))
		}
		for _, f := range c.opts.Fields {
			if lit.Matches(f) {
				fields = append(fields, f)
			}
		}
	default:
		if streamFields[lit.Text] {
			return nil, true, errorAt(lit.Pos, n, lit.Text+" is VictoriaLogs' stream field, which takes stream filters only")
		}
		return []string{lit.Text}, true, nil
	}
	var out []string
	for _, f := range fields {
		if !streamFields[f] {
			out = append(out, f)
		}
	}
	return out, false, nil
}
