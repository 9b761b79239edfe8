package esbulk

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Index is a parsed index name pattern: Logstash's sprintf form, literal
// text with %{+FORMAT} parts where FORMAT is a Joda-Time date pattern
// applied to the event's @timestamp in UTC, as Logstash's elasticsearch
// output applies it (nodejs-%{+YYYY.MM.dd} → nodejs-2026.11.28).
type Index struct {
	parts []indexPart
}

type indexPart struct {
	lit   string
	field string // Joda field letters ("YYYY", "MM") when not a literal
}

// ParseIndex reads a pattern; it names the first thing it cannot format.
// The Joda fields supported are those index names use: years (YYYY, yyyy,
// YY, yy, xxxx for the week year), MM, dd, HH, ww (ISO week).
func ParseIndex(pattern string) (Index, error) {
	var idx Index
	rest := pattern
	for rest != "" {
		i := strings.Index(rest, "%{")
		if i < 0 {
			idx.parts = append(idx.parts, indexPart{lit: rest})
			break
		}
		if i > 0 {
			idx.parts = append(idx.parts, indexPart{lit: rest[:i]})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return Index{}, fmt.Errorf("index %q: %%{ at position %d is not closed", pattern, len(pattern)-len(rest)+i)
		}
		spec := rest[i+2 : i+end]
		if !strings.HasPrefix(spec, "+") {
			return Index{}, fmt.Errorf("index %q: %%{%s}: only dates (%%{+YYYY.MM.dd}) are supported, not event fields", pattern, spec)
		}
		if err := idx.addDate(spec[1:]); err != nil {
			return Index{}, fmt.Errorf("index %q: %w", pattern, err)
		}
		rest = rest[i+end+1:]
	}
	if idx.Name(time.Unix(0, 0)) == "" {
		return Index{}, fmt.Errorf("index %q: empty", pattern)
	}
	name := strings.ToLower(idx.Name(time.Unix(0, 0)))
	if name != idx.Name(time.Unix(0, 0)) || strings.ContainsAny(name, ` "*\<|,>/?#:`) || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") {
		return Index{}, fmt.Errorf("index %q: Elasticsearch index names are lowercase, without spaces or any of \"*\\<|,>/?#: and do not start with _ or -", pattern)
	}
	return idx, nil
}

// addDate splits a Joda format into runs of one letter; other characters
// are literal ('quoted' text too).
func (idx *Index) addDate(format string) error {
	for i := 0; i < len(format); {
		c := format[i]
		switch {
		case c == '\'':
			end := strings.IndexByte(format[i+1:], '\'')
			if end < 0 {
				return fmt.Errorf("%%{+%s}: quote not closed", format)
			}
			idx.parts = append(idx.parts, indexPart{lit: format[i+1 : i+1+end]})
			i += end + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(format) && format[j] == c {
				j++
			}
			run := format[i:j]
			switch run {
			case "YYYY", "yyyy", "YY", "yy", "xxxx", "MM", "dd", "HH", "ww":
			default:
				return fmt.Errorf("%%{+%s}: date field %q is not supported (YYYY, yyyy, YY, xxxx, MM, dd, HH, ww are)", format, run)
			}
			idx.parts = append(idx.parts, indexPart{field: run})
			i = j
		default:
			idx.parts = append(idx.parts, indexPart{lit: string(c)})
			i++
		}
	}
	return nil
}

// Name is the index of an event at t.
func (idx Index) Name(t time.Time) string {
	t = t.UTC()
	var b strings.Builder
	pad := func(n, w int) {
		s := strconv.Itoa(n)
		for range w - len(s) {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	for _, p := range idx.parts {
		switch p.field {
		case "":
			b.WriteString(p.lit)
		case "YYYY", "yyyy":
			pad(t.Year(), 4)
		case "YY", "yy":
			pad(t.Year()%100, 2)
		case "xxxx":
			y, _ := t.ISOWeek()
			pad(y, 4)
		case "ww":
			_, w := t.ISOWeek()
			pad(w, 2)
		case "MM":
			pad(int(t.Month()), 2)
		case "dd":
			pad(t.Day(), 2)
		case "HH":
			pad(t.Hour(), 2)
		}
	}
	return b.String()
}
