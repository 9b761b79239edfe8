// Package statsd receives StatsD (Etsy) and DogStatsD metrics over UDP and
// TCP and Graphite plaintext over TCP and UDP, aggregates them exactly as the
// Etsy statsd daemon does (stats.js, lib/process_metrics.js, the graphite
// backend with its legacy namespace) and hands the flushed samples, named as
// Graphite paths, to the metrics store.
package statsd

import (
	"bytes"
	"math"
	"strconv"
)

// Type is a metric type after DogStatsD's extras are mapped onto Etsy's four.
type Type uint8

const (
	Counter Type = iota
	Gauge
	Timer // ms, and DogStatsD's h (histogram) and d (distribution)
	Set
)

// Metric is one parsed value; its byte slices point into the line.
type Metric struct {
	Key   []byte // unsanitised
	Value []byte // the text as sent (sets keep it, gauges look at its sign)
	Num   float64
	Type  Type
	Rate  float64 // 1 when absent
	Tags  []byte  // DogStatsD "k:v,tag" without the '#', or nil
	TS    int64   // DogStatsD |T unix seconds, 0 when absent
}

// LineKind says what a line is besides metrics.
type LineKind uint8

const (
	LineMetrics      LineKind = iota
	LineEvent                 // DogStatsD _e{…}
	LineServiceCheck          // DogStatsD _sc|…
	LineEmpty
)

// Classify tells metric lines from DogStatsD events and service checks.
func Classify(line []byte) LineKind {
	switch {
	case len(line) == 0 || (isSpace(line[0]) && len(bytes.TrimSpace(line)) == 0):
		return LineEmpty
	case bytes.HasPrefix(line, []byte("_e{")):
		return LineEvent
	case bytes.HasPrefix(line, []byte("_sc|")):
		return LineServiceCheck
	}
	return LineMetrics
}

// ParseLine parses one metric line, calling fn for each value it holds
// (`a:1|c:2|ms` holds two, DogStatsD's packed `a:1:2:3|ms` three). It returns
// how many parts were bad; Etsy counts each in statsd.bad_lines_seen. It does
// not allocate.
func ParseLine(line []byte, fn func(Metric)) (bad int) {
	var m Metric
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		// Etsy: a bare key is "1" with no type, a bad line.
		return 1
	}
	m.Key = line[:colon]
	rest := line[colon+1:]
	// Values without a type yet (DogStatsD packing) wait for the next typed part.
	var pending [16][]byte
	np := 0
	for len(rest) > 0 || np > 0 {
		if len(rest) == 0 {
			return bad + np // packed values never got a type
		}
		// value: up to '|' or ':' (IndexByte is vectorised; values are short
		// but lines are many)
		i := bytes.IndexByte(rest, '|')
		if i < 0 {
			i = len(rest)
		}
		if c := bytes.IndexByte(rest[:i], ':'); c >= 0 {
			i = c
		}
		val := rest[:i]
		if i == len(rest) || rest[i] == ':' {
			// No type: either a packed value or (at the end) a bad part.
			if i == len(rest) {
				return bad + np + 1
			}
			if np < len(pending) {
				pending[np] = val
				np++
			} else {
				bad++
			}
			rest = rest[i+1:]
			continue
		}
		rest = rest[i+1:] // past '|'
		j := 0
		for j < len(rest) && rest[j] != '|' && rest[j] != ':' {
			j++
		}
		typ := rest[:j]
		if len(typ) > 0 && (isSpace(typ[0]) || isSpace(typ[len(typ)-1])) {
			typ = bytes.TrimSpace(typ)
		}
		rest = rest[j:]
		m.Rate, m.Tags, m.TS = 1, nil, 0
		okMeta := true
		// metadata sections: |@rate |#tags |T123 |c:container
		for len(rest) > 0 && rest[0] == '|' {
			rest = rest[1:]
			k := 0
			if len(rest) > 0 && (rest[0] == '#' || (len(rest) > 1 && rest[0] == 'c' && rest[1] == ':')) {
				// tags and container ids may hold ':'; they run to the next '|'
				for k < len(rest) && rest[k] != '|' {
					k++
				}
			} else {
				for k < len(rest) && rest[k] != '|' && rest[k] != ':' {
					k++
				}
			}
			sec := rest[:k]
			rest = rest[k:]
			switch {
			case len(sec) > 1 && sec[0] == '@':
				r, ok := parseNumber(sec[1:])
				if !ok || r <= 0 || sec[1] == '-' {
					okMeta = false
				}
				m.Rate = r
			case len(sec) > 0 && sec[0] == '@':
				okMeta = false
			case len(sec) > 0 && sec[0] == '#':
				m.Tags = sec[1:]
			case len(sec) > 1 && sec[0] == 'T':
				ts, err := strconv.ParseInt(string(sec[1:]), 10, 64)
				if err != nil || ts <= 0 {
					okMeta = false
				}
				m.TS = ts
			case len(sec) > 1 && sec[0] == 'c' && sec[1] == ':':
				// DogStatsD container id: not a label we keep.
			default:
				okMeta = false
			}
		}
		if len(rest) > 0 && rest[0] == ':' {
			rest = rest[1:]
		}
		t, okType := parseType(typ)
		vals := pending[:np]
		np = 0
		for k := 0; k <= len(vals); k++ {
			v := val
			if k < len(vals) {
				v = vals[k]
			}
			if !okType || !okMeta {
				bad++
				continue
			}
			m.Type, m.Value = t, v
			if !valid(&m) || (m.Num < 0 && string(typ) == "ms") {
				// Etsy refuses negative durations; DogStatsD's h and d
				// may be negative.
				bad++
				continue
			}
			fn(m)
		}
	}
	return bad
}

func parseType(t []byte) (Type, bool) {
	switch string(t) {
	case "c":
		return Counter, true
	case "g":
		return Gauge, true
	case "ms", "h", "d":
		return Timer, true
	case "s":
		return Set, true
	}
	// Etsy counts any other type as a counter; DogStatsD clients rely on
	// unknown types being rejected rather than summed, so they are bad here.
	return 0, false
}

// valid applies Etsy's is_valid_packet: sets take anything, other types a
// number. NaN and infinities are refused (Etsy would store them and poison
// every aggregate).
func valid(m *Metric) bool {
	if m.Type == Set {
		return true
	}
	n, ok := parseNumber(m.Value)
	if !ok {
		return false
	}
	m.Num = n
	return true
}

// parseNumber reads a decimal number without allocating for the usual
// shapes (integers and plain decimals); exponents fall back to strconv.
func parseNumber(b []byte) (float64, bool) {
	if len(b) > 0 && (isSpace(b[0]) || isSpace(b[len(b)-1])) {
		b = bytes.TrimSpace(b)
	}
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	i := 0
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, 0
	seenDot := false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if digits < 19 {
				mant = mant*10 + uint64(c-'0')
				if mant != 0 {
					digits++
				}
				if seenDot {
					frac++
				}
			} else if !seenDot {
				return slowNumber(b)
			}
		case c == '.' && !seenDot:
			seenDot = true
		default:
			return slowNumber(b)
		}
	}
	if i == 1 && (neg || b[0] == '+') || (seenDot && len(b) == 1) {
		return 0, false
	}
	if digits > 15 || frac > 22 {
		return slowNumber(b)
	}
	// Exact integer divided by an exact power of ten: correctly rounded.
	f := float64(mant) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

func slowNumber(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

// Character classes for key sanitising, one table lookup per byte.
const (
	keyKeep byte = iota
	keySpace
	keySlash
	keyDrop
)

var keyClass = func() (t [256]byte) {
	for c := range t {
		t[c] = keyDrop
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '-', c == '.', c == ';', c == '=':
			t[c] = keyKeep
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\f', c == '\v':
			t[c] = keySpace
		case c == '/':
			t[c] = keySlash
		}
	}
	return
}()

// cleanKey reports whether a key needs no sanitising (the usual case).
func cleanKey(key []byte) bool {
	for _, c := range key {
		if keyClass[c] != keyKeep {
			return false
		}
	}
	return true
}

// SanitizeKey applies Etsy's key rules: whitespace runs become '_', '/'
// becomes '-', and anything outside [a-zA-Z_\-0-9.;=] is removed. It appends
// to dst and returns it.
func SanitizeKey(dst, key []byte) []byte {
	if cleanKey(key) {
		return append(dst, key...)
	}
	inSpace := false
	for _, c := range key {
		switch keyClass[c] {
		case keySpace:
			if !inSpace {
				dst = append(dst, '_')
			}
			inSpace = true
			continue
		case keySlash:
			dst = append(dst, '-')
		case keyKeep:
			dst = append(dst, c)
		}
		inSpace = false
	}
	return dst
}
