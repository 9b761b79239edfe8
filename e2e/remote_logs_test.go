package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/obs-dev/obs/store/logs/logstest"
)

// vlCluster is a VictoriaLogs cluster: two vlstorage nodes, one vlinsert
// and one vlselect, all the one victoria-logs binary (the -storageNode
// flag makes a node route to the others instead of storing).
type vlCluster struct {
	storage        []*proc
	insert, selekt *proc
	insertURL      string // the _bulk URL obs forwards to
	selectURL      string
}

func startVictoriaLogsCluster(t *testing.T) *vlCluster {
	bin := engineBinary(t, "victoria-logs")
	c := &vlCluster{}
	var nodes []string
	for i := range 2 {
		port := freePort(t)
		nodes = append(nodes, loopback(port))
		c.storage = append(c.storage, startProc(t, fmt.Sprintf("vlstorage-%d", i), bin, "http://"+loopback(port)+"/health",
			"-storageDataPath", t.TempDir(), "-httpListenAddr", loopback(port), "-loggerLevel", "ERROR",
			"-retentionPeriod", "30d"))
	}
	ip, sp := freePort(t), freePort(t)
	c.insert = startProc(t, "vlinsert", bin, "http://"+loopback(ip)+"/health",
		"-storageNode", strings.Join(nodes, ","), "-httpListenAddr", loopback(ip), "-loggerLevel", "ERROR")
	c.selekt = startProc(t, "vlselect", bin, "http://"+loopback(sp)+"/health",
		"-storageNode", strings.Join(nodes, ","), "-httpListenAddr", loopback(sp), "-loggerLevel", "ERROR")
	// VictoriaLogs reads the message and time fields from these arguments
	// (its docs' way for Logstash-shaped events).
	c.insertURL = "http://" + loopback(ip) + "/insert/elasticsearch/_bulk?_msg_field=message&_time_field=@timestamp"
	c.selectURL = "http://" + loopback(sp)
	return c
}

// query runs LogsQL on the vlselect node and decodes the JSON lines.
func (c *vlCluster) query(t *testing.T, q string) []map[string]any {
	t.Helper()
	resp, err := http.PostForm(c.selectURL+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("LogsQL %q: %s", q, resp.Status)
	}
	var out []map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("LogsQL answer: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// TestRemoteLogsVictoriaLogsCluster: obs with logs.storage both forwards
// every event it takes over UDP, TCP and HTTP through the _bulk API to a
// VictoriaLogs cluster; the cluster ends with each event as many times as
// it was sent (the generator repeats some events, as at-least-once
// shippers do), with its message and fields, and obs's own copy agrees.
func TestRemoteLogsVictoriaLogsCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a VictoriaLogs cluster")
	}
	vl := startVictoriaLogsCluster(t)
	s := newServer(t, "--logs-storage", "both", "--logs-remote-write", vl.insertURL)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 20))
	now := time.Now().UTC()
	run := fmt.Sprintf("vl%d", seed%1e6)
	n := 3000
	sets := map[string][]logstest.Event{
		"udp":  logstest.Gen(r, run+"u", n/4, logstest.Options{MaxSize: 8 << 10, Now: now}),
		"tcp":  logstest.Gen(r, run+"t", n/2, logstest.Options{MaxSize: 64 << 10, Now: now}),
		"http": logstest.Gen(r, run+"h", n/4, logstest.Options{MaxSize: 64 << 10, Now: now}),
	}
	if err := s.sendIntakes(sets, 1, rand.New(rand.NewPCG(seed, 21))); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, set := range sets {
		total += len(set)
	}
	eventually(t, time.Minute, func() error {
		if got := s.metric("obs_logs_remote_events_sent_total"); int(got) != total {
			return fmt.Errorf("forwarded %v of %d events (stored %v)", got, total, s.metric("obs_logs_stored_total"))
		}
		return nil
	})
	// Every event, by its rid, as many times as it was sent, with its
	// message and fields as VictoriaLogs flattens them.
	want := map[string]int{}
	sent := map[string]map[string]any{}
	for _, set := range sets {
		for _, e := range set {
			want[e.ID]++
			ev, err := logstest.Decode(e.Raw)
			if err != nil {
				t.Fatal(err)
			}
			sent[e.ID] = ev
		}
	}
	var got []map[string]any
	eventually(t, time.Minute, func() error {
		got = vl.query(t, fmt.Sprintf(`_time:30d run:~"^%s"`, run))
		if len(got) != total {
			return fmt.Errorf("VictoriaLogs has %d of %d events", len(got), total)
		}
		return nil
	})
	have := map[string]int{}
	wrong := 0
	for _, ev := range got {
		rid, _ := ev["rid"].(string)
		have[rid]++
		src := sent[rid]
		if src == nil {
			t.Errorf("an event obs did not send: %v", ev)
			continue
		}
		for k, v := range map[string]string{"_msg": src["message"].(string), "app": src["app"].(string), "severity": src["severity"].(string),
			"fields.status": fmt.Sprint(src["fields"].(map[string]any)["status"])} {
			if ev[k] != v {
				wrong++
				if wrong < 5 {
					t.Errorf("%s: %s = %q, sent %q", rid, k, ev[k], v)
				}
			}
		}
	}
	missing, dups := 0, 0
	for id, w := range want {
		switch h := have[id]; {
		case h < w:
			missing += w - h
		case h > w:
			dups += h - w
		}
	}
	ours := len(s.searchJSON(fmt.Sprintf("run:%su or run:%st or run:%sh", run, run, run)))
	t.Logf("figures: %d events over UDP, TCP and HTTP forwarded to a VictoriaLogs cluster (2 vlstorage): %d there, missing %d, duplicated %d, wrong fields %d; obs's own copy %d",
		total, len(got), missing, dups, wrong, ours)
	if missing != 0 || dups != 0 || wrong != 0 || ours != total {
		t.Errorf("missing %d, duplicated %d, wrong %d, obs's copy %d of %d", missing, dups, wrong, ours, total)
	}
}
