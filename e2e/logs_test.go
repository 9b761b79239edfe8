package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func ints(evs []map[string]any, get func(map[string]any) any) []int {
	var out []int
	for _, e := range evs {
		if v, ok := get(e).(float64); ok {
			out = append(out, int(v))
		}
	}
	sort.Ints(out)
	return out
}

func field(path ...string) func(map[string]any) any {
	return func(e map[string]any) any {
		var cur any = e
		for _, p := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[p]
		}
		return cur
	}
}

// TestLogsFromNodeClients sends events through the npm loggers apps use and
// checks that KQL searches from the CLI return exactly the expected ones.
func TestLogsFromNodeClients(t *testing.T) {
	dir := nodeModules(t)
	s := newServer(t)
	cmd := exec.Command("node", "send.js", fmt.Sprint(s.logsUDP))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node send.js: %v\n%s", err, out)
	}
	// 9 seed + 1 recipe-api + 3 log4js + 2 winston + 3 pino + 5 garbage.
	eventually(t, 5*time.Second, func() error {
		if n := s.metric("obs_logs_stored_total"); n != 23 {
			return fmt.Errorf("stored %v events, want 23", n)
		}
		return nil
	})

	t.Run("seed query", func(t *testing.T) {
		evs := s.searchJSON(`app:"web-api" AND (severity:error OR severity:warn)`)
		if got := fmt.Sprint(ints(evs, field("fields", "n"))); got != "[1 2 4 6 100]" {
			t.Fatalf("fields.n = %s, want [1 2 4 6 100]", got)
		}
		for _, e := range evs {
			// Stored exactly as sent: the seed's numeric @version and its own host.
			if e["@version"] != float64(1) || e["host"] != "seed-host" || e["environment"] != "development" {
				t.Fatalf("event changed: %v", e)
			}
		}
	})
	t.Run("newest first", func(t *testing.T) {
		evs := s.searchJSON(`app:web-api and type:request and fields.n < 100`)
		if len(evs) != 8 {
			t.Fatalf("%d events", len(evs))
		}
		for i := 1; i < len(evs); i++ {
			if evs[i-1]["@timestamp"].(string) < evs[i]["@timestamp"].(string) {
				t.Fatalf("not newest first: %v before %v", evs[i-1]["@timestamp"], evs[i]["@timestamp"])
			}
		}
	})
	t.Run("log4js", func(t *testing.T) {
		evs := s.searchJSON(`category:recipes and level:(ERROR or WARN)`)
		var msgs []string
		for _, e := range evs {
			msgs = append(msgs, e["message"].(string))
		}
		sort.Strings(msgs)
		if fmt.Sprint(msgs) != "[recipe store unreachable slow recipe]" {
			t.Fatalf("log4js messages %v", msgs)
		}
		if evs := s.searchJSON(`fields.id >= 43`); len(evs) != 2 {
			t.Fatalf("fields.id >= 43: %d events", len(evs))
		}
	})
	t.Run("winston", func(t *testing.T) {
		evs := s.searchJSON(`application:winston-app and level:error`)
		if len(evs) != 1 || evs[0]["user"] != "bob" || evs[0]["@version"] != "1" || evs[0]["host"] != "127.0.0.1" || evs[0]["@timestamp"] == nil {
			t.Fatalf("winston: %v", evs)
		}
	})
	t.Run("pino", func(t *testing.T) {
		evs := s.searchJSON(`name:pino-app and level >= 50`)
		if got := fmt.Sprint(ints(evs, field("order"))); got != "[2 3]" {
			t.Fatalf("pino orders %s", got)
		}
		for _, e := range evs {
			ts, _ := time.Parse(time.RFC3339Nano, e["@timestamp"].(string))
			if ts.UnixMilli() != int64(e["time"].(float64)) {
				t.Fatalf("@timestamp %v not taken from pino's time %v", e["@timestamp"], e["time"])
			}
		}
		if evs := s.searchJSON(`msg:"order failed"`); len(evs) != 1 {
			t.Fatalf("phrase on msg: %d", len(evs))
		}
	})
	t.Run("garbage kept", func(t *testing.T) {
		evs := s.searchJSON(`tags:_jsonparsefailure`)
		var msgs []string
		for _, e := range evs {
			msgs = append(msgs, e["message"].(string))
		}
		sort.Strings(msgs)
		want := []string{`"just a string"`, `42`, `this is not json`, `{"unterminated": `, "\ufffd\x00A"}
		sort.Strings(want)
		if fmt.Sprint(msgs) != fmt.Sprint(want) {
			t.Fatalf("garbage messages %q, want %q", msgs, want)
		}
		if n := s.metric(`obs_logs_bad_input_total{kind="json"}`); n != 5 {
			t.Fatalf("bad json counted %v", n)
		}
	})
	t.Run("count", func(t *testing.T) {
		out, err := s.obs("logs", "count", "-o", "json", "--since", "1h", "--interval", "1m", `app:"web-api"`)
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Total   int
			Buckets []struct{ Count int }
		}
		json.Unmarshal([]byte(out), &h)
		sum := 0
		for _, b := range h.Buckets {
			sum += b.Count
		}
		if h.Total != 9 || sum != 9 || len(h.Buckets) < 60 {
			t.Fatalf("histogram total %d, sum %d, %d buckets", h.Total, sum, len(h.Buckets))
		}
	})
	t.Run("fields sidebar", func(t *testing.T) {
		resp, err := http.Get(s.url() + "/api/logs/fields?q=app:web-api&from=now-1h")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Fields []struct {
				Field string
				Top   []struct {
					Value string
					Count int
				}
			}
		}
		json.NewDecoder(resp.Body).Decode(&body)
		found := false
		for _, f := range body.Fields {
			if f.Field == "severity" {
				found = true
				if len(f.Top) == 0 || f.Top[0].Value != "error" || f.Top[0].Count != 3 {
					t.Fatalf("severity top values %v", f.Top)
				}
			}
		}
		if !found {
			t.Fatalf("no severity field in %v", body.Fields)
		}
	})
	t.Run("bad query", func(t *testing.T) {
		_, err := s.obs("logs", "search", `app:"web-api" AND (severity:error`)
		if err == nil || !strings.Contains(err.Error(), "position 33") || !strings.Contains(err.Error(), `expected`) {
			t.Fatalf("want a positioned syntax error, got %v", err)
		}
	})
}

// TestLogsTCPAndHTTP covers json_lines over TCP, POST /api/logs and live tail.
func TestLogsTCPAndHTTP(t *testing.T) {
	s := newServer(t)

	tail := exec.Command(obsBin, "logs", "tail", "-o", "json", "--server", s.url(), "app:tailed")
	stdout, _ := tail.StdoutPipe()
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the websocket subscribe

	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "{\"app\":\"tcp-app\",\"n\":1}\n{\"app\":\"tcp-app\",\"n\":2}\r\nnot json\n{\"app\":\"tailed\",\"n\":3}")
	c.Close()

	// Three days back: inside the 7-day retention, so it goes to its own day.
	dated := time.Now().UTC().AddDate(0, 0, -3).Truncate(time.Hour)
	resp, err := http.Post(s.url()+"/api/logs", "application/x-ndjson",
		strings.NewReader(fmt.Sprintf(`{"app":"http-app","@timestamp":%q}`, dated.Format(time.RFC3339))+"\n"+`[{"app":"http-app","@timestamp":"yesterday"}]`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/logs: %s", resp.Status)
	}

	select {
	case l := <-lines:
		var e map[string]any
		if json.Unmarshal([]byte(l), &e) != nil || e["n"] != float64(3) {
			t.Fatalf("tail got %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("live tail saw nothing")
	}

	eventually(t, 5*time.Second, func() error {
		if evs := s.searchJSON(`app:tcp-app`); len(evs) != 2 {
			return fmt.Errorf("tcp-app: %d events", len(evs))
		}
		return nil
	})
	if evs := s.searchJSON(`tags:_jsonparsefailure and message:"not json"`); len(evs) != 1 {
		t.Fatalf("tcp garbage: %v", evs)
	}
	evs := s.searchJSON(`app:http-app`, "--from", "now-10d", "--to", "now+1d")
	if len(evs) != 2 {
		t.Fatalf("http-app: %v", evs)
	}
	var sawFailure bool
	for _, e := range evs {
		if e["_@timestamp"] == "yesterday" {
			sawFailure = fmt.Sprint(e["tags"]) == "[_timestampparsefailure]"
		}
	}
	if !sawFailure {
		t.Fatalf("unparseable @timestamp not tagged: %v", evs)
	}
	// The old event went to its own day's partition.
	if evs := s.searchJSON(fmt.Sprintf(`app:http-app and @timestamp < %q`, dated.Add(time.Hour).Format(time.RFC3339)), "--from", "now-10d", "--to", "now"); len(evs) != 1 {
		t.Fatalf("dated event: %v", evs)
	}
}

// TestLogsKill9 kills obs during steady ingest and checks that every event
// that was searchable before the kill is found after the restart.
func TestLogsKill9(t *testing.T) {
	s := newServer(t)
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.logsUDP}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			fmt.Fprintf(conn, `{"app":"crash","seq":%d,"severity":"info","message":"steady ingest %d"}`, i, i)
			sent.Add(1)
			if i%20 == 0 {
				time.Sleep(time.Millisecond) // ~20k events/s: a steady app, not a flood
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond) // some blocks and a head with events
	before := s.searchJSON(`app:crash`)
	s.kill9()
	close(stop)
	wg.Wait()
	if len(before) < 1000 {
		t.Fatalf("only %d events searchable before the kill", len(before))
	}
	recovery := s.start()
	after := s.searchJSON(`app:crash`)
	have := map[int]bool{}
	for _, e := range after {
		have[int(e["seq"].(float64))] = true
	}
	missing := 0
	for _, e := range before {
		if !have[int(e["seq"].(float64))] {
			missing++
		}
	}
	t.Logf("sent %d, searchable before kill %d, after restart %d, missing %d, serving again after %v",
		sent.Load(), len(before), len(after), missing, recovery)
	if missing > 0 {
		t.Fatalf("%d events searchable before kill -9 are gone", missing)
	}
}
