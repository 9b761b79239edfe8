package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/logs/logstest"
)

// TestLogsIntegrity sends random events (up to 64 KiB, unicode, escapes,
// nested fields, timestamps in and out of order, minutes and days in the
// past, duplicates) to the real binary over UDP datagrams, four TCP
// json_lines connections at once and HTTP NDJSON, and checks through the
// HTTP API that every event comes back byte for byte and only for queries it
// satisfies: while running, after a clean restart and after kill -9. Then
// `obs admin verify` must find nothing wrong.
func TestLogsIntegrity(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 11))
	now := time.Now().UTC()
	n := scale(1600, 20000)
	s := newServer(t)
	sets := map[string][]logstest.Event{
		"udp":  logstest.Gen(r, "udp", n/4, logstest.Options{MaxSize: 65507, Now: now}),
		"tcp":  logstest.Gen(r, "tcp", n/2, logstest.Options{MaxSize: 64 << 10, Now: now}),
		"http": logstest.Gen(r, "http", n/4, logstest.Options{MaxSize: 64 << 10, Now: now}),
	}
	if err := s.sendIntakes(sets, 4, rand.New(rand.NewPCG(seed, 12))); err != nil {
		t.Fatal(err)
	}
	total := len(sets["udp"]) + len(sets["tcp"]) + len(sets["http"])
	eventually(t, 30*time.Second, func() error {
		if got := s.metric("obs_logs_stored_total"); int(got) != total {
			return fmt.Errorf("stored %v of %d events", got, total)
		}
		return nil
	})
	verifyAll := func(when string) {
		t.Helper()
		for name, set := range sets {
			if err := logstest.Verify(set, name, apiAnswers{s, now}); err != nil {
				t.Fatalf("%s, %s: %v", when, name, err)
			}
		}
	}
	verifyAll("running")
	s.stop()
	s.start()
	verifyAll("after restart")
	s.kill9()
	s.start()
	verifyAll("after kill -9")
	if out, err := s.obs("admin", "verify"); err != nil {
		t.Fatalf("obs admin verify: %v\n%s", err, out)
	}
}

// apiAnswers asks the running server over its HTTP API, every page.
type apiAnswers struct {
	s   *server
	now time.Time
}

func (a apiAnswers) window() string {
	return "&from=" + url.QueryEscape(a.now.Add(-10*24*time.Hour).Format(time.RFC3339)) +
		"&to=" + url.QueryEscape(a.now.Add(time.Hour).Format(time.RFC3339))
}

func (a apiAnswers) Search(q string) ([][]byte, error) {
	var out [][]byte
	cursor := ""
	for {
		var res struct {
			Hits []struct {
				Event json.RawMessage `json:"event"`
			} `json:"hits"`
			Next string `json:"next"`
		}
		if err := getJSONErr(a.s.url()+"/api/logs/search?limit=1000&q="+url.QueryEscape(q)+a.window()+"&cursor="+url.QueryEscape(cursor), &res); err != nil {
			return nil, err
		}
		for _, h := range res.Hits {
			out = append(out, h.Event)
		}
		if res.Next == "" {
			return out, nil
		}
		cursor = res.Next
	}
}

func (a apiAnswers) Count(q string) (int, error) {
	var h struct{ Total int }
	err := getJSONErr(a.s.url()+"/api/logs/histogram?interval=1h&q="+url.QueryEscape(q)+a.window(), &h)
	return h.Total, err
}

// getJSONErr decodes a 200 answer; anything else (an empty body included)
// is an error.
func getJSONErr(u string, out any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("answer (%d bytes) is not JSON: %v", len(b), err)
	}
	return nil
}

// sendUDPPaced paces datagrams by what the server has read (UDP has no
// backpressure: a kernel drop must not count as a loss here).
// sendIntakes sends sets["udp"] paced over UDP, sets["tcp"] over tcpConns
// json_lines connections and sets["http"] in NDJSON batches, all at once.
func (s *server) sendIntakes(sets map[string][]logstest.Event, tcpConns int, r *rand.Rand) error {
	var wg sync.WaitGroup
	errs := make(chan error, tcpConns+2)
	wg.Add(1)
	go func() { defer wg.Done(); errs <- s.sendUDPPaced(sets["udp"]) }()
	for c := 0; c < tcpConns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			var mine []logstest.Event
			for i := c; i < len(sets["tcp"]); i += tcpConns {
				mine = append(mine, sets["tcp"][i])
			}
			errs <- logstest.SendLines(fmt.Sprintf("127.0.0.1:%d", s.logsUDP), mine)
		}(c)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := logstest.PostNDJSON(s.url()+"/api/logs", sets["http"], r, nil)
		errs <- err
	}()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (s *server) sendUDPPaced(set []logstest.Event) error {
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", s.logsUDP))
	if err != nil {
		return err
	}
	defer c.Close()
	base := s.metricSum("obs_logs_udp_datagrams_total")
	for i, e := range set {
		if i%100 == 99 {
			for deadline := time.Now().Add(10 * time.Second); s.metricSum("obs_logs_udp_datagrams_total")-base < float64(i-100) && time.Now().Before(deadline); {
				time.Sleep(2 * time.Millisecond)
			}
		}
		if _, err := c.Write(e.Raw); err != nil {
			return fmt.Errorf("udp send: %w", err)
		}
	}
	return nil
}

// TestLogsAcknowledgedSurviveKill9: events POSTed at full speed from four
// senders, obs killed with -9 at random moments and restarted each time;
// every event answered 202 must be there at the end.
func TestLogsAcknowledgedSurviveKill9(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 13))
	now := time.Now().UTC()
	s := newServer(t)
	kills := scale(3, 20)
	var mu sync.Mutex
	acked := map[string]int{}
	var ackedN atomic.Int64
	for k := 0; k < kills; k++ {
		set := logstest.Gen(r, fmt.Sprintf("ack%d", k), scale(4000, 20000), logstest.Options{MaxSize: 2 << 10, Now: now})
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			var mine []logstest.Event
			for i := c; i < len(set); i += 4 {
				mine = append(mine, set[i])
			}
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				// Errors are expected: the server dies under the sender.
				logstest.PostNDJSON(s.url()+"/api/logs", mine, rand.New(rand.NewPCG(seed, uint64(100+k*4+c))), func(b []logstest.Event) {
					mu.Lock()
					for _, e := range b {
						acked[e.ID]++
					}
					mu.Unlock()
					ackedN.Add(int64(len(b)))
				})
			}(c)
		}
		time.Sleep(time.Duration(100+r.IntN(900)) * time.Millisecond)
		s.kill9()
		wg.Wait()
		s.start()
	}
	mu.Lock()
	defer mu.Unlock()
	found := map[string]int{}
	for k := 0; k < kills; k++ {
		hits, err := apiAnswers{s, now}.Search(fmt.Sprintf("run:ack%d", k))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			var ev struct{ Rid string }
			json.Unmarshal(h, &ev)
			found[ev.Rid]++
		}
	}
	lost := 0
	for id, n := range acked {
		if found[id] < n {
			lost += n - found[id]
		}
	}
	t.Logf("figures: %d kill -9 during full-speed HTTP intake: %d events acknowledged, %d lost", kills, ackedN.Load(), lost)
	if lost > 0 || ackedN.Load() == 0 {
		t.Fatalf("%d of %d acknowledged events lost", lost, ackedN.Load())
	}
	if out, err := s.obs("admin", "verify"); err != nil {
		t.Fatalf("obs admin verify: %v\n%s", err, out)
	}
}
