package statsd

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxFuture is how far ahead of the clock a sample's own timestamp may
// be. Further ahead is a bad line: one far-future sample would move the
// TSDB head so that every later sample looked too old.
const MaxFuture = 10 * time.Minute

// ParseCarbon reads one Graphite plaintext line, `path value timestamp`
// (timestamp in unix seconds; -1 or N means now, as carbon allows). A
// tagged path, name;tag=value;..., becomes the name and labels.
func ParseCarbon(line []byte, now time.Time) (Sample, error) {
	path, v, ts, err := parseCarbonLine(line, now.Unix())
	if err != nil {
		return Sample{}, err
	}
	name, labels, err := carbonTags(string(path))
	if err != nil {
		return Sample{}, err
	}
	return Sample{Name: name, Labels: labels, TS: ts, Value: v}, nil
}

// parseCarbonLine splits and checks a line, leaving the path (tags and
// all) as a sub-slice of line: the listener looks the path up in its
// series cache, so a known series costs no allocation. ts is in unix
// milliseconds; now is unix seconds.
func parseCarbonLine(line []byte, now int64) (path []byte, v float64, ts int64, err error) {
	f, ok := carbonFields(line)
	if !ok {
		// Not three plain ASCII fields: split as bytes.Fields does (Unicode
		// spaces too) for the same answer and an exact message.
		all := bytes.Fields(line)
		if len(all) != 3 {
			return nil, 0, 0, fmt.Errorf("want `path value timestamp`, got %d fields", len(all))
		}
		f = [3][]byte(all)
	}
	v, ok = parseNumber(f[1])
	if !ok {
		return nil, 0, 0, fmt.Errorf("value %q is not a finite number", f[1])
	}
	sec, err := carbonTime(f[2], now)
	if err != nil {
		return nil, 0, 0, err
	}
	return f[0], v, sec * 1000, nil
}

// carbonFields splits an ASCII line at ASCII spaces into exactly three
// fields; false for anything else (the caller takes the slow path). One
// table lookup per byte: this loop is a fifth of carbon's CPU.
func carbonFields(line []byte) (f [3][]byte, ok bool) {
	n, i := 0, 0
	for {
		for i < len(line) && carbonClass[line[i]] == carbonSpace {
			i++
		}
		if i == len(line) {
			return f, n == 3
		}
		if n == 3 {
			return f, false
		}
		start := i
		for i < len(line) && carbonClass[line[i]] == carbonText {
			i++
		}
		if i < len(line) && carbonClass[line[i]] == carbonHigh {
			return f, false
		}
		f[n] = line[start:i]
		n++
	}
}

const (
	carbonText  byte = iota
	carbonSpace      // the ASCII spaces bytes.Fields splits at
	carbonHigh       // outside ASCII: maybe a Unicode space
)

var carbonClass = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= 0x80:
			t[c] = carbonHigh
		case isSpace(byte(c)):
			t[c] = carbonSpace
		}
	}
	return t
}()

// carbonTime reads the timestamp field: unix seconds (a float, truncated,
// as carbon's int(float(ts))), or -1 / N for now.
func carbonTime(b []byte, now int64) (int64, error) {
	if len(b) == 1 && b[0] == 'N' || len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return now, nil
	}
	limit := now + int64(MaxFuture/time.Second)
	if len(b) <= 18 {
		// Plain digits, the usual case: no float parse.
		var t int64
		i := 0
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			t = t*10 + int64(b[i]-'0')
		}
		if i == len(b) {
			switch {
			case t <= 0:
				return 0, fmt.Errorf("timestamp %q is not unix seconds", b)
			case t > limit:
				return 0, fmt.Errorf("timestamp %q is more than %v ahead of the clock", b, MaxFuture)
			}
			return t, nil
		}
	}
	t, err := strconv.ParseFloat(string(b), 64)
	if err != nil || !(t > 0) || math.IsInf(t, 0) {
		// !(t > 0) also refuses NaN, which int() refuses in carbon.
		return 0, fmt.Errorf("timestamp %q is not unix seconds", b)
	}
	if t > float64(limit) {
		return 0, fmt.Errorf("timestamp %q is more than %v ahead of the clock", b, MaxFuture)
	}
	return int64(t), nil
}

// carbonTags splits carbon's tagged form, as carbon does: each tag is
// tag=value with a non-empty tag and value, sorted by tag.
func carbonTags(path string) (string, []Label, error) {
	name, rest, tagged := strings.Cut(path, ";")
	if !tagged {
		return path, nil, nil
	}
	name = strings.TrimLeft(name, "~")
	if name == "" {
		return "", nil, fmt.Errorf("tagged path %q has no metric name", path)
	}
	var out []Label
	for _, seg := range strings.Split(rest, ";") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" || v == "" || strings.ContainsAny(k, "!^=") || strings.HasPrefix(v, "~") {
			return "", nil, fmt.Errorf("tagged path %q: bad tag %q (want tag=value)", path, seg)
		}
		if k == "name" || k == "__name__" {
			return "", nil, fmt.Errorf("tagged path %q: %q is the metric name, not a tag", path, k)
		}
		out = append(out, Label{Name: k, Value: v})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i := 1; i < len(out); i++ {
		if out[i].Name == out[i-1].Name {
			out[i-1] = out[i] // the last one wins, as in carbon's dict
			out = append(out[:i], out[i+1:]...)
			i--
		}
	}
	return name, out, nil
}
