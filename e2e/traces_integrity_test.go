package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tracePost is one POST: a trace of its own, 10 to 60 spans.
func tracePost(r *rand.Rand, traceID string, now time.Time) ([]byte, int) {
	n := 10 + r.IntN(51)
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		parent := ""
		if i > 0 {
			parent = `"parentId":"0000000000000001",`
		}
		kind := []string{`"kind":"SERVER",`, `"kind":"CLIENT",`, `"kind":"PRODUCER",`, ""}[r.IntN(4)]
		fmt.Fprintf(&b, `{"traceId":"%s","id":"%016x",%s%s"name":"op-%d","timestamp":%d,"duration":%d,"localEndpoint":{"serviceName":"svc-%d","ipv4":"10.1.0.%d"},"tags":{"i":"%d","pad":"%s"}}`,
			traceID, i+1, parent, kind, r.IntN(20), now.UnixMicro()+int64(i), 1+r.IntN(100000), r.IntN(6), r.IntN(250), i, strings.Repeat("x", r.IntN(400)))
	}
	b.WriteByte(']')
	return b.Bytes(), n
}

// TestTracesAcknowledgedSurviveKill9: spans POSTed at full speed from four
// senders, obs killed with -9 at random moments (3 times, 20 with
// OBS_SOAK=1) and restarted each time; every span answered 202 must be
// there at the end.
func TestTracesAcknowledgedSurviveKill9(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 24))
	s := newServer(t)
	kills := scale(3, 20)
	var mu sync.Mutex
	acked := map[string]int{} // trace id → spans acknowledged
	var ackedSpans, refused atomic.Int64
	client := &http.Client{Timeout: 10 * time.Second}
	for k := 0; k < kills; k++ {
		url := fmt.Sprintf("http://127.0.0.1:%d/api/v2/spans", s.zipkin)
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, uint64(1000+k*4+c)))
				for i := 0; ; i++ {
					id := fmt.Sprintf("%04x%04x%08x", k+1, c, i)
					body, n := tracePost(r, id, time.Now())
					resp, err := client.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						return // the server died under the sender
					}
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					switch resp.StatusCode {
					case 202:
						mu.Lock()
						acked[id] = n
						mu.Unlock()
						ackedSpans.Add(int64(n))
					case 503:
						refused.Add(int64(n)) // not acknowledged: the sender would retry
					default:
						t.Errorf("POST: %d %s", resp.StatusCode, msg)
						return
					}
				}
			}(c)
		}
		time.Sleep(time.Duration(100+r.IntN(900)) * time.Millisecond)
		s.kill9()
		wg.Wait()
		s.start()
	}
	mu.Lock()
	defer mu.Unlock()
	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	lost := 0
	zbase := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)
	for len(ids) > 0 {
		chunk := ids[:min(50, len(ids))]
		ids = ids[len(chunk):]
		found := map[string]int{}
		if len(chunk) == 1 {
			var spans []zspan
			s.getJSON(t, zbase, "/api/v2/trace/"+chunk[0], &spans)
			found[chunk[0]] = len(spans)
		} else {
			var traces [][]zspan
			if code := s.getJSON(t, zbase, "/api/v2/traceMany?traceIds="+strings.Join(chunk, ","), &traces); code != 200 {
				t.Fatalf("traceMany: %d", code)
			}
			for _, tr := range traces {
				seen := map[string]bool{}
				for _, sp := range tr {
					seen[sp.ID] = true
				}
				found[tr[0].TraceID] = len(seen)
			}
		}
		for _, id := range chunk {
			if found[id] < acked[id] {
				lost += acked[id] - found[id]
			}
		}
	}
	t.Logf("figures: %d kill -9 during full-speed Zipkin intake: %d spans acknowledged in %d POSTs, %d refused with 503, %d lost",
		kills, ackedSpans.Load(), len(acked), refused.Load(), lost)
	if lost > 0 || ackedSpans.Load() == 0 {
		t.Fatalf("%d of %d acknowledged spans lost", lost, ackedSpans.Load())
	}
}
