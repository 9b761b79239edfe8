package logsql

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
)

// Word characters as obs's tokenizer (and VictoriaLogs') sees them.
const (
	wordChar = `[\pL\p{Nd}_]`
	nonWord  = `[^\pL\p{Nd}_]`
)

// term compiles field:value (Kibana's is) as obs's evaluator matches it:
// one clause set per field the name stands for, any of them.
func (c compiler) term(t kql.Term) (expr, error) {
	fields, explicit, err := c.fields(t.Field, t.Free, t)
	if err != nil {
		return nil, err
	}
	exists := !t.Free && t.Value.OnlyStars()
	if t.Free && anyValue(t.Value) {
		// Any field with any value: every event.
		return everything, nil
	}
	var out []expr
	for _, f := range fields {
		var e expr
		switch {
		case c.isTime(f):
			e, err = c.timeTerm(t, exists, explicit)
		case exists || anyValue(t.Value):
			e = leaf(c.ref(f) + ":*")
		case t.Value.Wildcard():
			e = c.patternTerm(f, t.Value)
		default:
			e = c.valueTerm(f, t.Value)
		}
		if err != nil {
			return nil, err
		}
		if e != nil {
			out = append(out, e)
		}
	}
	return anyOf(out...), nil
}

// anyValue is a pattern of stars alone, which any value matches.
func anyValue(v kql.Literal) bool {
	if !v.Wildcard() {
		return false
	}
	for _, p := range v.Parts {
		if p != "" {
			return false
		}
	}
	return true
}

// timeTerm is a term on the time field, stored as _time: a value that
// reads as a date is that instant. Free text and wildcard field names
// leave the time field out rather than fail.
func (c compiler) timeTerm(t kql.Term, exists, explicit bool) (expr, error) {
	if exists || anyValue(t.Value) {
		return everything, nil // every event has a time
	}
	if !t.Value.Wildcard() {
		if at, err := kql.ParseDateMath(t.Value.Text, c.opts.Now, false); err == nil {
			ts := timestamp(at)
			return leaf("_time:[" + ts + ", " + ts + "]"), nil
		}
	}
	if !explicit {
		return nil, nil
	}
	return nil, errorAt(t.Value.Pos, t, "the time field takes a date (2026-01-02T15:04:05Z) or date math (now-15m); LogsQL has no text or pattern filter on _time")
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// valueTerm is field:value without wildcards.
func (c compiler) valueTerm(field string, v kql.Literal) expr {
	ref := c.ref(field)
	out := []expr{leaf(ref + ":=" + quote(v.Text))}
	if f, err := strconv.ParseFloat(strings.TrimSpace(v.Text), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		n := strconv.FormatFloat(f, 'f', -1, 64)
		out = append(out, leaf(ref+":range["+n+", "+n+"]"))
	}
	out = append(out, element(ref, v.Text))
	toks := logs.Tokens(v.Text)
	switch {
	case len(toks) == 0:
	case v.Quoted && len(toks) > 1:
		// A phrase: the words in this order, only non-word characters
		// between them, whatever the case.
		words := make([]string, len(toks))
		for i, w := range toks {
			words[i] = regexp.QuoteMeta(w)
		}
		out = append(out, c.text(field, regex(ref, `(?i)(?:^|`+nonWord+`)`+strings.Join(words, nonWord+`+`)+`(?:`+nonWord+`|$)`)))
	default:
		words := make([]expr, len(toks))
		for i, w := range toks {
			words[i] = leaf(ref + ":i(" + quote(w) + ")")
		}
		out = append(out, c.text(field, anyOf(words...)))
	}
	return anyOf(out...)
}

// element matches value as one element of an array, which VictoriaLogs
// stores as its JSON text (obs indexes each element as the field's value).
func element(ref, value string) expr {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(value) // a string always encodes
	js := strings.TrimSuffix(b.String(), "\n")
	return allOf(leaf(ref+`:="["*`), regex(ref, `[\[,]`+regexp.QuoteMeta(js)+`[,\]]`))
}

// patternTerm is field:value with wildcards.
func (c compiler) patternTerm(field string, v kql.Literal) expr {
	ref := c.ref(field)
	var out []expr
	// The whole value against the pattern, case-sensitive.
	if last := len(v.Parts) - 1; last == 1 && v.Parts[1] == "" {
		out = append(out, leaf(ref+":="+quote(v.Parts[0])+"*"))
	} else {
		out = append(out, regex(ref, `(?s)^`+globRegex(v.Parts, `.*`)+`$`))
	}
	// Any word against it, whatever the case, when the pattern fits in a
	// word (obs's rule: no part spans words or spaces).
	lower := make([]string, len(v.Parts))
	for i, p := range v.Parts {
		lower[i] = strings.ToLower(p)
		toks := logs.Tokens(lower[i])
		if len(toks) > 1 || lower[i] != "" && len(toks) == 0 || strings.TrimSpace(lower[i]) != lower[i] {
			return anyOf(out...)
		}
	}
	if len(lower) == 2 && lower[1] == "" && lower[0] != "" && len(logs.Tokens(lower[0])) == 1 && logs.Tokens(lower[0])[0] == lower[0] {
		out = append(out, c.text(field, leaf(ref+":i("+quote(lower[0])+"*)")))
	} else {
		out = append(out, c.text(field, regex(ref, `(?i)(?:^|`+nonWord+`)`+globRegex(lower, wordChar+`*`)+`(?:`+nonWord+`|$)`)))
	}
	return anyOf(out...)
}

// globRegex is the parts of a pattern, quoted, joined by what a star
// stands for.
func globRegex(parts []string, star string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(q, star)
}

func regex(ref, re string) expr { return leaf(ref + ":~" + quote(re)) }

// text limits word clauses to values obs tokenizes: always for the usual
// message fields, else only values with a space, tab or newline.
func (c compiler) text(field string, words expr) expr {
	if logs.IsText(field, "") {
		return words
	}
	return allOf(regex(c.ref(field), `[ \t\n]`), words)
}

// maxString is above every UTF-8 string: string_range's open upper end.
const maxString = "\xff\xff\xff\xff"

var ops = map[string]bool{"<": true, "<=": true, ">": true, ">=": true}

// rangeFilter compiles field < value and friends as obs's evaluator
// compares: dates on the time field, numbers numerically, else strings.
func (c compiler) rangeFilter(r kql.Range) (expr, error) {
	if !ops[r.Op] {
		return nil, errorAt(r.Field.Pos, r, "unknown operator "+r.Op)
	}
	fields, explicit, err := c.fields(r.Field, false, r)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(r.Value.Text)
	num, numErr := strconv.ParseFloat(text, 64)
	isNum := numErr == nil && !math.IsNaN(num)
	roundUp := r.Op == "<=" || r.Op == ">"
	date, dateErr := kql.ParseDateMath(r.Value.Text, c.opts.Now, roundUp)
	isDate := dateErr == nil
	var out []expr
	for _, f := range fields {
		ref := c.ref(f)
		switch {
		case c.isTime(f) && isDate:
			out = append(out, leaf("_time:"+r.Op+timestamp(date)))
		case c.isTime(f) && isNum:
			// Epoch milliseconds, as Elasticsearch reads a number there.
			out = append(out, leaf("_time:"+r.Op+timestamp(time.UnixMilli(int64(num)))))
		case c.isTime(f):
			if !explicit {
				continue
			}
			return nil, errorAt(r.Value.Pos, r, "the time field takes a date (2026-01-02T15:04:05Z) or date math (now-15m)")
		case isNum && !isDate:
			if math.IsInf(num, 0) {
				out = append(out, infRange(ref, r.Op, num))
			} else {
				out = append(out, leaf(ref+":"+r.Op+strconv.FormatFloat(num, 'f', -1, 64)))
			}
		default:
			bound := r.Value.Text
			if isDate && (strings.HasPrefix(text, "now") || strings.Contains(text, "||")) {
				bound = timestamp(date) // date math: the instant it names
			}
			out = append(out, stringRange(ref, r.Op, bound))
		}
	}
	return anyOf(out...), nil
}

// infRange is a comparison with an infinite bound: everything numeric on
// one side, nothing on the other.
func infRange(ref, op string, inf float64) expr {
	below := op == "<" || op == "<="
	if below == (inf > 0) {
		return leaf(ref + ":range[-Inf, Inf]")
	}
	return nothing
}

// stringRange is a string comparison as string_range, whose lower end is
// included and upper end excluded; appending a NUL steps just past a bound.
// A range starting at "" needs a value: LogsQL reads a missing field as "".
func stringRange(ref, op, v string) expr {
	from, to := "", maxString
	switch op {
	case ">=":
		from = v
	case ">":
		from = v + "\x00"
	case "<":
		to = v
	default:
		to = v + "\x00"
	}
	r := leaf(ref + ":string_range(" + quote(from) + ", " + quote(to) + ")")
	if from == "" {
		return allOf(leaf(ref+":*"), r)
	}
	return r
}
