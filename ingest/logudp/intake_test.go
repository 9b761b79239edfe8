package logudp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/obs-dev/obs/ingest/logudp"
	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/logs/logstest"
)

// TestIntakePathsKeepEveryEventIntact sends random events (up to 64 KiB,
// unicode, escapes, nested fields, timestamps minutes and days in the past,
// duplicates) over real UDP datagrams, four TCP json_lines connections at
// once and HTTP NDJSON batches, into a real store on disk, and checks that
// every event comes back byte for byte and only for queries it satisfies.
// TCP and HTTP events used to come back as slices of reused read buffers.
func TestIntakePathsKeepEveryEventIntact(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	now := time.Now().UTC()
	n := 2400
	if testing.Short() {
		n = 300
	}
	st, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := logudp.NewMetrics(prometheus.NewRegistry())
	srv := &logudp.Server{Addr: "127.0.0.1:0", Sink: st, Metrics: m}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	web := httptest.NewServer(logudp.HTTPHandler(st, m, logudp.HTTPOptions{}))
	defer web.Close()

	// UDP gets events that fit a datagram; TCP and HTTP up to 64 KiB.
	udpSet := logstest.Gen(r, "udp", n/4, logstest.Options{MaxSize: 65507, Now: now})
	tcpSet := logstest.Gen(r, "tcp", n/2, logstest.Options{MaxSize: 64 << 10, Now: now})
	httpSet := logstest.Gen(r, "http", n/4, logstest.Options{MaxSize: 64 << 10, Now: now})

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Add(1)
	go func() { defer wg.Done(); errs <- sendUDP(srv.UDPAddr().String(), udpSet, m) }()
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			var mine []logstest.Event
			for i := c; i < len(tcpSet); i += 4 {
				mine = append(mine, tcpSet[i])
			}
			errs <- logstest.SendLines(srv.UDPAddr().String(), mine)
		}(c)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := logstest.PostNDJSON(web.URL, httpSet, rand.New(rand.NewPCG(seed, 9)), nil)
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := int64(len(udpSet) + len(tcpSet) + len(httpSet))
	deadline := time.Now().Add(30 * time.Second)
	for st.Stats.Stored.Load() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st.Sync()
	if got := st.Stats.Stored.Load(); got != want {
		t.Fatalf("stored %d events, sent %d (dropped %d; received udp %v tcp %v http %v)", got, want, st.Stats.Dropped.Load(),
			counter(m.Events.WithLabelValues("udp")), counter(m.Events.WithLabelValues("tcp")), counter(m.Events.WithLabelValues("http")))
	}
	answers := logstest.StoreAnswers(st, func(q string) (logs.Matcher, error) { return kql.Compile(q, now) }, now)
	for name, set := range map[string][]logstest.Event{"udp": udpSet, "tcp": tcpSet, "http": httpSet} {
		if err := logstest.Verify(set, name, answers); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// sendUDP paces datagrams by what the listener has read, so that the test
// never counts a kernel drop (UDP has no backpressure) as a loss.
func sendUDP(addr string, set []logstest.Event, m *logudp.Metrics) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for i, e := range set {
		for deadline := time.Now().Add(10 * time.Second); counter(m.Datagrams) < float64(i-100) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if _, err := c.Write(e.Raw); err != nil {
			return fmt.Errorf("udp send: %w", err)
		}
	}
	return nil
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}
