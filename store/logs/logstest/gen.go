// Package logstest makes random, realistic log events for the property
// tests of the log store and its intakes, and the queries those tests ask
// with an independent way to check each hit: a predicate over the event
// decoded by encoding/json, which shares no code with the store or KQL.
package logstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Event is one generated event: ID is unique per event (rid), Raw is exactly
// what is sent and what the store must give back.
type Event struct {
	ID  string
	TS  time.Time
	Raw []byte
}

// Options shape a generated set.
type Options struct {
	// MaxSize bounds an event's bytes: about a third of the events carry a
	// filler field that takes them anywhere up to it (64 KiB for TCP and
	// HTTP; a UDP datagram holds at most 65,507). 0: no filler.
	MaxSize int
	// Now anchors timestamps.
	Now time.Time
}

var (
	apps       = []string{"web-api", "recipe-api", "wéb-ápi", "auth", "日本-svc"}
	severities = []string{"error", "warn", "info", "debug"}
	words      = []string{"connection", "refused", "timeout", "recipe", "user", "cache", "miss", "héllo",
		"naïve", "日本語", "🙂", "emoji🚀", "tab\there", "quote\"d", "back\\slash", "<script>", "a&b", "line\nbreak", "\u2028sep"}
	paths = []string{"/recipes/42", "/health", "/users/7/orders", "/ä/ö", "/search?q=a%20b"}
)

// Gen makes n events for run (a string every event carries as "run", so a
// test can find its own). About 1 in 20 events is sent twice: Dups lists the
// extra copies, which the store must also return.
func Gen(r *rand.Rand, run string, n int, o Options) []Event {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var out []Event
	for i := 0; i < n; i++ {
		ev := one(r, run, i, o)
		out = append(out, ev)
		if r.IntN(20) == 0 {
			out = append(out, ev) // a duplicate, as an at-least-once shipper sends
		}
	}
	return out
}

func one(r *rand.Rand, run string, i int, o Options) Event {
	padTo := 0
	if o.MaxSize > 0 && r.IntN(3) == 0 {
		padTo = r.IntN(o.MaxSize)
		if r.IntN(10) == 0 {
			padTo = o.MaxSize - r.IntN(64) // right at the limit
		}
	}
	for {
		ev := build(r, run, i, o.Now, padTo)
		if o.MaxSize == 0 || len(ev.Raw) <= o.MaxSize {
			return ev
		}
		// Escapes made it longer than planned: take off the excess.
		padTo -= len(ev.Raw) - o.MaxSize + 16
		if padTo < 0 {
			padTo = 0
		}
	}
}

func build(r *rand.Rand, run string, i int, now time.Time, padTo int) Event {
	ts := timestamp(r, i, now)
	id := fmt.Sprintf("%s-%d", run, i)
	var b strings.Builder
	// Keys in a random order and random JSON whitespace: the store keeps
	// bytes, so neither may change.
	sp := func() string {
		if r.IntN(4) == 0 {
			return " "
		}
		return ""
	}
	kv := []string{
		`"@timestamp":` + sp() + strconv.Quote(ts.UTC().Format("2006-01-02T15:04:05.000Z")),
		`"@version":"1"`,
		`"host":"gen-host"`,
		`"run":` + quote(r, run),
		`"rid":` + quote(r, id),
		`"app":` + quote(r, apps[r.IntN(len(apps))]),
		`"severity":` + quote(r, severities[r.IntN(len(severities))]),
		`"message":` + sp() + quote(r, sentence(r)),
		`"fields":{"status":` + strconv.Itoa([]int{200, 200, 201, 404, 500, 503}[r.IntN(6)]) +
			`,"latency_ms":` + strconv.FormatFloat(float64(r.IntN(100000))/100, 'f', -1, 64) +
			`,"path":` + quote(r, paths[r.IntN(len(paths))]) +
			`,"ok":` + strconv.FormatBool(r.IntN(2) == 0) +
			`,"nested":{"deep":{"x":` + strconv.Itoa(r.IntN(10)) + `,"none":null}}}`,
		`"tags":[` + quote(r, words[r.IntN(len(words))]) + `,` + quote(r, "t"+strconv.Itoa(r.IntN(5))) + `]`,
	}
	if padTo > 0 {
		kv = append(kv, `"pad":`+quote(r, pad(r, padTo)))
	}
	r.Shuffle(len(kv), func(a, c int) { kv[a], kv[c] = kv[c], kv[a] })
	b.WriteString("{" + sp())
	for k, s := range kv {
		if k > 0 {
			b.WriteString("," + sp())
		}
		b.WriteString(s)
	}
	b.WriteString(sp() + "}")
	return Event{ID: id, TS: ts.UTC().Truncate(time.Millisecond), Raw: []byte(b.String())}
}

// timestamp: mostly recent and in order, some out of order, some minutes,
// hours or days in the past (a shipper catching up).
func timestamp(r *rand.Rand, i int, now time.Time) time.Time {
	switch r.IntN(10) {
	case 0:
		return now.Add(-time.Duration(r.IntN(600)) * time.Second)
	case 1:
		return now.Add(-time.Duration(1+r.IntN(5))*24*time.Hour - time.Duration(r.IntN(3600))*time.Second)
	case 2:
		return now.Add(-time.Duration(r.IntN(180)) * time.Minute)
	}
	return now.Add(-10*time.Minute + time.Duration(i)*time.Millisecond)
}

func sentence(r *rand.Rand) string {
	n := 1 + r.IntN(12)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = words[r.IntN(len(words))]
	}
	return strings.Join(ws, " ")
}

func pad(r *rand.Rand, n int) string {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789 é日"
	var b strings.Builder
	for b.Len() < n {
		c, _ := utf8.DecodeRuneInString(alpha[r.IntN(len(alpha)):])
		if c == utf8.RuneError {
			c = 'x'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// quote writes s as a JSON string, escaping non-ASCII as \uXXXX at random:
// both spellings are valid JSON and must come back as sent.
func quote(r *rand.Rand, s string) string {
	escape := r.IntN(3) == 0
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		case c > 0x7e && escape:
			if c > 0xffff {
				r1, r2 := utf16Pair(c)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
		case c == '/' && escape:
			b.WriteString(`\/`)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func utf16Pair(c rune) (rune, rune) {
	c -= 0x10000
	return 0xd800 + (c>>10)&0x3ff, 0xdc00 + c&0x3ff
}

// Query is a KQL query and the same condition written against the decoded
// event, so a hit can be checked without the code that found it.
type Query struct {
	KQL   string
	Match func(ev map[string]any) bool
}

// Queries for the events of run.
func Queries(run string) []Query {
	str := func(ev map[string]any, path ...string) string {
		v := get(ev, path...)
		s, _ := v.(string)
		return s
	}
	num := func(ev map[string]any, path ...string) (float64, bool) {
		v, ok := get(ev, path...).(float64)
		return v, ok
	}
	mine := func(ev map[string]any) bool { return str(ev, "run") == run }
	return []Query{
		{fmt.Sprintf(`run:%q`, run), mine},
		{fmt.Sprintf(`run:%q and severity:error`, run), func(ev map[string]any) bool {
			return mine(ev) && str(ev, "severity") == "error"
		}},
		{fmt.Sprintf(`run:%q and (app:"web-api" or app:"日本-svc") and not severity:debug`, run), func(ev map[string]any) bool {
			a := str(ev, "app")
			return mine(ev) && (a == "web-api" || a == "日本-svc") && str(ev, "severity") != "debug"
		}},
		{fmt.Sprintf(`run:%q and fields.status >= 500`, run), func(ev map[string]any) bool {
			v, ok := num(ev, "fields", "status")
			return mine(ev) && ok && v >= 500
		}},
		{fmt.Sprintf(`run:%q and message:refused`, run), func(ev map[string]any) bool {
			return mine(ev) && hasWord(str(ev, "message"), "refused")
		}},
		{fmt.Sprintf(`run:%q and fields.nested.deep.x:3`, run), func(ev map[string]any) bool {
			v, ok := num(ev, "fields", "nested", "deep", "x")
			return mine(ev) && ok && v == 3
		}},
		{fmt.Sprintf(`run:%q and tags:t2`, run), func(ev map[string]any) bool {
			tags, _ := get(ev, "tags").([]any)
			return mine(ev) && slices.Contains(tags, any("t2"))
		}},
	}
}

// hasWord splits as a standard analyzer would (letters, digits, _), lower-cased.
func hasWord(s, w string) bool {
	f := strings.FieldsFunc(strings.ToLower(s), func(c rune) bool {
		return !(c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c))
	})
	return slices.Contains(f, w)
}

func get(ev map[string]any, path ...string) any {
	var cur any = ev
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// Decode reads an event for the predicates.
func Decode(raw []byte) (map[string]any, error) {
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// Answerer asks the system under test: Search returns every hit of a KQL
// query (all pages, raw event bytes), Count the number it reports for the
// same query (count, histogram total), which must agree with the hits.
type Answerer interface {
	Search(kql string) ([][]byte, error)
	Count(kql string) (int, error)
}

// Verify asks every query of Queries(run) and checks the answers against
// the events sent: each event found as many times as it was sent, every hit
// byte for byte the event stored under its rid, every hit satisfying its
// query by the independent predicate, and the counts agreeing.
func Verify(set []Event, run string, a Answerer) error {
	byID := map[string][]byte{}
	sent := map[string]int{}
	decoded := make([]map[string]any, len(set))
	for i, e := range set {
		byID[e.ID] = e.Raw
		sent[e.ID]++
		ev, err := Decode(e.Raw)
		if err != nil {
			return fmt.Errorf("generated event %s is not JSON: %w", e.ID, err)
		}
		decoded[i] = ev
	}
	for qi, q := range Queries(run) {
		want := 0
		for _, ev := range decoded {
			if q.Match(ev) {
				want++
			}
		}
		hits, err := a.Search(q.KQL)
		if err != nil {
			return fmt.Errorf("search %s: %w", q.KQL, err)
		}
		got := map[string]int{}
		for _, raw := range hits {
			ev, err := Decode(raw)
			if err != nil {
				return fmt.Errorf("%s: a hit is not JSON (%v): %.200q", q.KQL, err, raw)
			}
			id, _ := ev["rid"].(string)
			if !bytes.Equal(raw, byID[id]) {
				return fmt.Errorf("%s: hit (rid %q) differs from the event stored:\n got %.300q\nwant %.300q", q.KQL, id, raw, byID[id])
			}
			if !q.Match(ev) {
				return fmt.Errorf("%s: hit %q does not satisfy the query: %.300q", q.KQL, id, raw)
			}
			got[id]++
		}
		if len(hits) != want {
			return fmt.Errorf("%s: %d hits, want %d", q.KQL, len(hits), want)
		}
		if qi == 0 { // run:X finds every event
			for id, n := range sent {
				if got[id] != n {
					return fmt.Errorf("event %s found %d times, sent %d", id, got[id], n)
				}
			}
		}
		if c, err := a.Count(q.KQL); err != nil || c != want {
			return fmt.Errorf("count %s = %d (%v), want %d", q.KQL, c, err, want)
		}
	}
	return nil
}
