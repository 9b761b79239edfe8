package statsd

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/obs-dev/obs/store/metrics"
)

func TestCarbonParse(t *testing.T) {
	now := time.Unix(1700000000, 0)
	s, err := ParseCarbon([]byte("servers.a.load 1.5 1699999990"), now)
	if err != nil || s.Name != "servers.a.load" || s.Value != 1.5 || s.TS != 1699999990000 {
		t.Fatalf("%+v %v", s, err)
	}
	if s, _ := ParseCarbon([]byte("x 2 -1"), now); s.TS != 1700000000000 {
		t.Fatalf("-1 is now: %+v", s)
	}
	for _, bad := range []string{"x 1", "x NaN 1", "x 1 yesterday", "x 1 2 3", ""} {
		if _, err := ParseCarbon([]byte(bad), now); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestCarbonRefusesFarFutureAndReadsTags(t *testing.T) {
	now := time.Now()
	if _, err := ParseCarbon([]byte("x 1 32503680000"), now); err == nil {
		t.Error("a sample in the year 3000 was taken")
	}
	if _, err := ParseCarbon([]byte("x 1e400 1"), now); err == nil {
		t.Error("an infinite value was taken")
	}
	s, err := ParseCarbon([]byte(fmt.Sprintf("disk.used;host=a;dc=east 5 %d", now.Unix())), now)
	if err != nil || s.Name != "disk.used" || fmt.Sprint(s.Labels) != "[{dc east} {host a}]" {
		t.Errorf("tagged: %+v %v", s, err)
	}
	for _, bad := range []string{"x;=a 1 1", "x;a 1 1", ";a=b 1 1", "x;name=y 1 1"} {
		if _, err := ParseCarbon([]byte(bad), now); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
}

// referenceParseCarbon is the parser before the allocation-free one
// (bytes.Fields, strconv, carbonTags on every line), kept as the oracle
// FuzzParseCarbon holds the fast path to.
func referenceParseCarbon(line []byte, now time.Time) (Sample, error) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return Sample{}, fmt.Errorf("want `path value timestamp`, got %d fields", len(f))
	}
	v, ok := parseNumber(f[1])
	if !ok {
		return Sample{}, fmt.Errorf("value %q is not a finite number", f[1])
	}
	var ts int64
	switch string(f[2]) {
	case "-1", "N":
		ts = now.Unix()
	default:
		t, err := strconv.ParseFloat(string(f[2]), 64)
		// NaN: the old parser took it (as int64(NaN)); carbon's int() and
		// the new parser refuse it.
		if err != nil || t <= 0 || math.IsInf(t, 0) || math.IsNaN(t) {
			return Sample{}, fmt.Errorf("timestamp %q is not unix seconds", f[2])
		}
		if t > float64(now.Add(MaxFuture).Unix()) {
			return Sample{}, fmt.Errorf("timestamp %q is more than %v ahead of the clock", f[2], MaxFuture)
		}
		ts = int64(t)
	}
	name, labels, err := carbonTags(string(f[0]))
	if err != nil {
		return Sample{}, err
	}
	return Sample{Name: name, Labels: labels, TS: ts * 1000, Value: v}, nil
}

func FuzzParseCarbon(f *testing.F) {
	for _, s := range []string{"a.b 1 1700000000", "a;x=y;z=w -1.5e3 N", "a 1 32503680000", "x;=a 1 1", "a 1e400 1",
		"a\t1\v1700000000.9", "a 1 NaN", "a\u00a01 2 3", "\u2028a 1 1", "a 1 +1700000000", "a 1 0x1p30", "a 1 1 1",
		"a 1 000000000000000001", "a 1 1800000600", "a 1 1800000601", "a 1 -1", "b 2 N\r"} {
		f.Add(s)
	}
	now := time.Unix(1800000000, 0)
	f.Fuzz(func(t *testing.T, line string) {
		s, err := ParseCarbon([]byte(line), now)
		ref, referr := referenceParseCarbon([]byte(line), now)
		if (err == nil) != (referr == nil) || err != nil && err.Error() != referr.Error() || !reflect.DeepEqual(s, ref) {
			t.Fatalf("%q: got %+v, %v; the reference parser %+v, %v", line, s, err, ref, referr)
		}
		if err != nil {
			return
		}
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) || s.TS > now.Add(MaxFuture).UnixMilli() || s.Name == "" {
			t.Fatalf("%q gave a sample that would harm the store: %+v", line, s)
		}
	})
}

// TestCarbonParseNoAlloc: a line of a known series costs no allocation
// from the read buffer to the index lookup.
func TestCarbonParseNoAlloc(t *testing.T) {
	x := newCarbonIndex(10)
	x.add([]byte("fleet.dc1.host7.cpu.load"))
	var b carbonBatch
	line := []byte("fleet.dc1.host7.cpu.load 0.75 1700000000")
	allocs := testing.AllocsPerRun(1000, func() {
		b.add(line)
		p := b.points[0]
		if x.paths[string(b.paths[p.start:p.end])] == nil {
			t.Fatal("not found")
		}
		b.reset()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per line", allocs)
	}
}

// TestCarbonListener drives the real listener over TCP and UDP into a
// TSDB on disk: the distinct-name cap, tags, bad lines (unparsable,
// too long, far future, bad tags) counted, and memory shedding.
func TestCarbonListener(t *testing.T) {
	st, err := metrics.Open(t.TempDir(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var shed atomic.Bool
	var paused atomic.Int64
	c := &Carbon{Addr: "127.0.0.1:0", Sink: st, MaxNames: 3,
		Shed: shed.Load, Pause: func(context.Context) { paused.Add(1) }}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now().Unix()
	tcp := fmt.Sprintf("a.x 1 %d\na.x 2 %d\nb;dc=east;host=h1 3 %d\nb;host=h2 4 %d\n", now-20, now-10, now-10, now-10) +
		fmt.Sprintf("not a line\nc 5 %d\nd 6 %d\nc 7 -1\nfar 1 %d\nbad;=x 1 %d\n", now-10, now-10, now+3600, now) +
		string(bytes.Repeat([]byte("z"), 70<<10)) + "\n\n  \n"
	conn, err := net.Dial("tcp", c.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte(tcp))
	conn.Close()
	// Bad lines: "not a line", far future, bad tag, too long. d is the
	// fourth name: refused by the cap (c, a.x and b came first).
	waitFor(t, func() bool { return testutil.ToFloat64(c.rejected) == 1 && testutil.ToFloat64(c.bad) == 4 })
	if got := testutil.ToFloat64(c.good); got != 6 {
		t.Errorf("good %v, want 6", got)
	}
	udp, err := net.DialUDP("udp", nil, c.pair.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	shed.Store(true)
	udp.Write([]byte(fmt.Sprintf("a.x 100 %d\n", now)))
	time.Sleep(100 * time.Millisecond)
	shed.Store(false)
	udp.Write([]byte(fmt.Sprintf("a.x 8 %d\r\nb;host=h1;dc=east 9 %d\nnope\n", now, now)))
	waitFor(t, func() bool { return testutil.ToFloat64(c.good) == 8 && testutil.ToFloat64(c.bad) == 5 })
	if paused.Load() == 0 {
		t.Error("the TCP reader never asked to pause")
	}
	got := map[string][]float64{}
	ss, err := st.Select(context.Background(), 0, (now+60)*1000, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		key := s.Name
		if s.Labels["host"] != "" {
			key += ";dc=" + s.Labels["dc"] + ";host=" + s.Labels["host"]
		}
		got[key] = s.Values
	}
	want := map[string][]float64{"a.x": {1, 2, 8}, "b;dc=east;host=h1": {3, 9}, "b;dc=;host=h2": {4}, "c": {5, 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
