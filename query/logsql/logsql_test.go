package logsql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/query/kql"
)

var now = time.Date(2026, 11, 20, 13, 0, 0, 0, time.UTC)

// Clauses of field:value spelled out once, for the table below.
func exact(ref, v string) string { return ref + `:=` + strconv.Quote(v) }
func elem(ref, v string) string {
	return `(` + ref + `:="["* AND ` + ref + `:~` + strconv.Quote(`[\[,]"`+v+`"[,\]]`) + `)`
}
func guarded(ref, words string) string { return `(` + ref + `:~"[ \\t\\n]" AND ` + words + `)` }

func TestCompile(t *testing.T) {
	withFields := Options{Now: now, Fields: []string{"@timestamp", "app", "message", "n"}}
	for _, c := range []struct {
		kql  string
		opts Options
		want string
	}{
		{``, Options{}, `*`},
		{`app:web`, Options{}, exact(`"app"`, "web") + ` OR ` + elem(`"app"`, "web") + ` OR ` + guarded(`"app"`, `"app":i("web")`)},
		// the message field is always text: no guard; stored as _msg
		{`message:refused`, Options{}, exact(`_msg`, "refused") + ` OR ` + elem(`_msg`, "refused") + ` OR _msg:i("refused")`},
		// several words, unquoted: any of them
		{`msg:a-b`, Options{}, exact(`"msg"`, "a-b") + ` OR ` + elem(`"msg"`, "a-b") + ` OR "msg":i("a") OR "msg":i("b")`},
		// quoted: the words in order, any case, non-word characters between
		{`message:"Refused by"`, Options{}, exact(`_msg`, "Refused by") + ` OR ` + elem(`_msg`, "Refused by") +
			` OR _msg:~"(?i)(?:^|[^\\pL\\p{Nd}_])refused[^\\pL\\p{Nd}_]+by(?:[^\\pL\\p{Nd}_]|$)"`},
		// one quoted word is a word
		{`message:"Refused"`, Options{}, exact(`_msg`, "Refused") + ` OR ` + elem(`_msg`, "Refused") + ` OR _msg:i("refused")`},
		// a number also matches numerically
		{`status:200`, Options{}, exact(`"status"`, "200") + ` OR "status":range[200, 200] OR ` + elem(`"status"`, "200") + ` OR ` + guarded(`"status"`, `"status":i("200")`)},
		{`status:2e2`, Options{}, exact(`"status"`, "2e2") + ` OR "status":range[200, 200] OR ` + elem(`"status"`, "2e2") + ` OR ` + guarded(`"status"`, `"status":i("2e2")`)},
		// patterns: the whole value case-sensitive, or a word
		{`app:web*`, Options{}, `"app":="web"* OR ` + guarded(`"app"`, `"app":i("web"*)`)},
		{`app:*api`, Options{}, `"app":~"(?s)^.*api$" OR ` + guarded(`"app"`, `"app":~"(?i)(?:^|[^\\pL\\p{Nd}_])[\\pL\\p{Nd}_]*api(?:[^\\pL\\p{Nd}_]|$)"`)},
		{`app:Web*`, Options{}, `"app":="Web"* OR ` + guarded(`"app"`, `"app":i("web"*)`)},
		// a pattern across words only matches whole values
		{`message:a b*`, Options{}, `_msg:="a b"*`},
		{`app:*`, Options{}, `"app":*`},
		{`app:**`, Options{}, `"app":*`},
		{`*`, Options{}, `*`},
		// free text: the message alone, or every field the store has
		{`refused`, Options{}, exact(`_msg`, "refused") + ` OR ` + elem(`_msg`, "refused") + ` OR _msg:i("refused")`},
		{`web`, withFields, exact(`"app"`, "web") + ` OR ` + elem(`"app"`, "web") + ` OR ` + guarded(`"app"`, `"app":i("web")`) +
			` OR ` + exact(`_msg`, "web") + ` OR ` + elem(`_msg`, "web") + ` OR _msg:i("web")` +
			` OR ` + exact(`"n"`, "web") + ` OR ` + elem(`"n"`, "web") + ` OR ` + guarded(`"n"`, `"n":i("web")`)},
		{`"2026-11-20T12:00:00Z"`, Options{Now: now, Fields: []string{"@timestamp"}}, `_time:[2026-11-20T12:00:00Z, 2026-11-20T12:00:00Z]`},
		{`a*:*`, withFields, `"app":*`},
		{`x*:1`, withFields, `NOT *`},
		{`a:{ x }`, Options{}, `NOT *`},
		// ranges
		{`n >= 5`, Options{}, `"n":>=5`},
		{`n < -1.5`, Options{}, `"n":<-1.5`},
		{`n < Inf`, Options{}, `"n":range[-Inf, Inf]`},
		{`n > Inf`, Options{}, `NOT *`},
		{`@timestamp >= now-1d/d`, Options{Now: now}, `_time:>=2026-11-19T00:00:00Z`},
		{`@timestamp <= now/d`, Options{Now: now}, `_time:<=2026-11-20T23:59:59.999Z`},
		{`@timestamp > 1795176003000`, Options{}, `_time:>2026-11-20T12:00:03Z`},
		{`app >= web`, Options{}, `"app":string_range("web", "\xff\xff\xff\xff")`},
		{`app > web`, Options{}, `"app":string_range("web\x00", "\xff\xff\xff\xff")`},
		{`app < web`, Options{}, `"app":* AND "app":string_range("", "web")`},
		{`app <= web`, Options{}, `"app":* AND "app":string_range("", "web\x00")`},
		{`day > now-1d`, Options{Now: now}, `"day":string_range("2026-11-19T13:00:00Z\x00", "\xff\xff\xff\xff")`},
		// logic and grouping
		{`a:* and (b:* or not c:*)`, Options{}, `"a":* AND ("b":* OR NOT "c":*)`},
		{`a:* or b:* and c:*`, Options{}, `"a":* OR ("b":* AND "c":*)`},
		{`not (a:* or b:*)`, Options{}, `NOT ("a":* OR "b":*)`},
		{`x:(1 or 2)`, Options{}, exact(`"x"`, "1") + ` OR "x":range[1, 1] OR ` + elem(`"x"`, "1") + ` OR ` + guarded(`"x"`, `"x":i("1")`) +
			` OR ` + exact(`"x"`, "2") + ` OR "x":range[2, 2] OR ` + elem(`"x"`, "2") + ` OR ` + guarded(`"x"`, `"x":i("2")`)},
		{`fields:{ status >= 500 and path:* }`, Options{}, `"fields.status":>=500 AND "fields.path":*`},
		// quoting: names and values with LogsQL's special characters
		{`"weird key":*`, Options{}, `"weird key":*`},
		{`"a\"b|c":*`, Options{}, `"a\"b|c":*`},
		{`not:*`, Options{}, `"not":*`},     // a field named like a LogsQL keyword
		{`limit:*`, Options{}, `"limit":*`}, // or like a pipe
	} {
		got, err := Compile(c.kql, c.opts)
		if err != nil {
			t.Errorf("%s: %v", c.kql, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.kql, got, c.want)
		}
		if err := wellFormed(got); err != nil {
			t.Errorf("%s: %s: %v", c.kql, got, err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct {
		kql, want string
		pos       int
	}{
		{`fields.*:200`, `needs the store's field names`, 0},
		{`@timestamp:2026*`, `the time field takes a date`, 11},
		{`@timestamp:yesterday`, `the time field takes a date`, 11},
		{`_time:yesterday`, `the time field takes a date`, 6},
		{`_stream:x`, `stream field`, 0},
		{`a:1 or _stream_id < 5`, `stream field`, 7},
	} {
		_, err := Compile(c.kql, Options{Now: now})
		var ce *kql.CompileError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || ce.Pos != c.pos {
			t.Errorf("%s: %v, want a CompileError at %d with %q", c.kql, err, c.pos, c.want)
		}
	}
	if _, err := Compile(`a:"b`, Options{}); err == nil || !strings.Contains(err.Error(), "position 4") {
		t.Errorf("syntax error: %v", err)
	}
}

func TestPipes(t *testing.T) {
	from, to := now.Add(-time.Hour), now
	for _, c := range []struct{ got, want string }{
		{Within(`"a":*`, from, to), `_time:[2026-11-20T12:00:00Z, 2026-11-20T13:00:00Z] AND "a":*`},
		{Within(`"a":* OR "b":*`, from, to), `_time:[2026-11-20T12:00:00Z, 2026-11-20T13:00:00Z] AND ("a":* OR "b":*)`},
		{Newest(`*`, 500), `* | sort by (_time desc) | limit 500`},
		{Count(`"a":*`), `"a":* | stats count() hits`},
		{TopValues(`"a":* OR "b":*`, "app", 5, Options{}), `("a":* OR "b":*) AND "app":* | top 5 by ("app")`},
		{TopValues(`*`, "message", 3, Options{}), `* AND _msg:* | top 3 by (_msg)`},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
		if err := wellFormed(c.got); err != nil {
			t.Errorf("%s: %v", c.got, err)
		}
	}
	for _, c := range []struct {
		step, offset time.Duration
		want         string
	}{
		{time.Minute, 0, `* | stats by (_time:1m) count() hits`},
		{90 * time.Minute, 0, `* | stats by (_time:1h30m) count() hits`},
		{24 * time.Hour, -2 * time.Hour, `* | stats by (_time:1d offset -2h) count() hits`},
		{1500 * time.Millisecond, 0, `* | stats by (_time:1s500ms) count() hits`},
	} {
		got, err := Histogram(`*`, c.step, c.offset)
		if err != nil || got != c.want {
			t.Errorf("Histogram(%v, %v) = %q, %v; want %q", c.step, c.offset, got, err, c.want)
		}
	}
	for _, bad := range []time.Duration{0, -time.Second, time.Microsecond} {
		if _, err := Histogram(`*`, bad, 0); err == nil {
			t.Errorf("Histogram step %v: want an error", bad)
		}
	}
}

// wellFormed checks what can be checked of LogsQL offline: every quoted
// token unquotes, and parentheses and brackets outside quotes balance.
func wellFormed(q string) error {
	var stack []byte
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '"':
			j := i + 1
			for j < len(q) && q[j] != '"' {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(q) {
				return fmt.Errorf("unclosed quote at %d", i)
			}
			if _, err := strconv.Unquote(q[i : j+1]); err != nil {
				return fmt.Errorf("quoted token %s at %d: %w", q[i:j+1], i, err)
			}
			i = j
		case '(', '[':
			stack = append(stack, c)
		case ')', ']':
			open := byte('(')
			if c == ']' {
				open = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return fmt.Errorf("unbalanced %c at %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("%d unclosed groups", len(stack))
	}
	return nil
}

func TestWellFormed(t *testing.T) {
	for _, bad := range []string{`"a`, `("a":*`, `"a":*)`, `"\q"`, `[)`} {
		if wellFormed(bad) == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
