package send

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

func TestEvent(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string // JSON, or "error: substring"
	}{
		{[]string{"app=web-api", "severity=error", "message=recipe-api refused the connection"},
			`{"app":"web-api","message":"recipe-api refused the connection","severity":"error"}`},
		{[]string{"fields.status:=500", "fields.path=/recipes/42", "app=web-api"},
			`{"app":"web-api","fields":{"path":"/recipes/42","status":500}}`},
		{[]string{"ok:=true", "n:=1.5", "tags:=[\"a\"]", "empty="}, `{"empty":"","n":1.5,"ok":true,"tags":["a"]}`},
		{[]string{"url=http://x/?a=b"}, `{"url":"http://x/?a=b"}`},
		{[]string{"obj:={\"a\":1}", "obj.b=2"}, `{"obj":{"a":1,"b":"2"}}`},
		{[]string{` {"b": 1,  "a": [1, 2]} `}, `{"b":1,"a":[1,2]}`},
		{[]string{`[{"a":1},{"a":2}]`}, `[{"a":1},{"a":2}]`},
		{nil, "error: no event"},
		{[]string{"app"}, "error: want key=value"},
		{[]string{"=x"}, "error: empty part"},
		{[]string{"a..b=x"}, "error: empty part"},
		{[]string{"a=1", "a=2"}, "error: given twice"},
		{[]string{"a=1", "a.b=2"}, "error: is a value"},
		{[]string{"n:=fifty"}, "error: not JSON"},
		{[]string{`{"a":1}`, "b=2"}, "error: not both"},
		{[]string{`{"a":`}, "error: not JSON"},
		{[]string{`[1]`}, "error: not a JSON object"},
	} {
		got, err := Event(c.args)
		if want, isErr := strings.CutPrefix(c.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: got %s, %v; want error with %q", c.args, got, err, want)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%q: got %s, %v; want %s", c.args, got, err, c.want)
		}
	}
}

func TestStatsDLines(t *testing.T) {
	b, err := StatsDLines([]string{"deploys:1|c", "queue.depth:17|g", "_e{1,1}:a|b"})
	if err != nil || string(b) != "deploys:1|c\nqueue.depth:17|g\n_e{1,1}:a|b" {
		t.Fatalf("%q %v", b, err)
	}
	for _, bad := range []string{"deploys", "deploys:1|zz", "a:1|c\nb:2|c"} {
		if _, err := StatsDLines([]string{bad}); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// Over real sockets: a datagram per message over UDP, a line per message
// over TCP.
func TestConn(t *testing.T) {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	c, err := Dial("udp", u.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := StatsD{Conn: c, Prefix: "web-api"}
	s.Increment("outbound.recipe-api.request-count", 1)
	s.Timing("outbound.recipe-api.request-time", 1500*time.Microsecond)
	s.Gauge("server.conn", 3)
	if err := s.Gauge("x", -1); err == nil {
		t.Error("negative gauge sent")
	}
	buf := make([]byte, 1024)
	for _, want := range []string{"web-api.outbound.recipe-api.request-count:1|c", "web-api.outbound.recipe-api.request-time:1.5|ms", "web-api.server.conn:3|g"} {
		n, err := u.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("got %q %v, want %q", buf[:n], err, want)
		}
	}
	if err := c.Send(make([]byte, MaxDatagram+1)); err == nil {
		t.Error("oversized datagram sent")
	}
	c.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tc, err := Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if tc.String() != l.Addr().String()+" (tcp)" {
		t.Errorf("String() = %s", tc)
	}
	srv, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tc.Send([]byte(`{"a":1}`))
	tc.Send([]byte(`{"a":2}` + "\n"))
	tc.Close()
	var got strings.Builder
	for {
		n, err := srv.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if got.String() != "{\"a\":1}\n{\"a\":2}\n" {
		t.Fatalf("tcp got %q", got.String())
	}
}

// FuzzPairs: no input panics, and whatever Event accepts is one JSON
// object (or array) on one line, as the wire wants it.
func FuzzPairs(f *testing.F) {
	for _, s := range []string{"app=web-api\x00severity=error", "fields.status:=500\x00fields.path=/x", "a:={\"b\":1}\x00a.c=2",
		`{"a":1}`, "a=1\x00a.b=2", "=", ":=", "a.=1", "x:=[1,{\"y\":null}]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := Event(strings.Split(s, "\x00"))
		if err != nil {
			return
		}
		if strings.ContainsAny(string(b), "\n\r") {
			t.Fatalf("event spans lines: %q", b)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("not JSON: %q: %v", b, err)
		}
		switch v.(type) {
		case map[string]any, []any:
		default:
			t.Fatalf("not an object or array: %q", b)
		}
	})
}
