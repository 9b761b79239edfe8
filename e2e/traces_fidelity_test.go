package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// nodeService starts one of the npm-instrumented services in
// testdata/node with env, and waits until it listens.
func nodeService(t *testing.T, script string, env ...string) {
	t.Helper()
	cmd := exec.Command("node", script)
	cmd.Dir = nodeModules(t)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "listening" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("%s exited: %s", script, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start: %s", script, stderr.String())
	}
}

// The seed's two services, exactly as its tracing chapter runs them
// (fastify, node-fetch, zipkin-lite@0.1.1): web-api starts a trace and
// reports a SERVER span and a CLIENT span for its call, recipe-api a
// SERVER span. zipkin-lite sends ports as strings ("port":"4000") and no
// shared flag on the server half; every span of every request must be
// stored, and the link web-api → recipe-api counted once per request.
func TestTracesSeedServicesWithZipkinLite(t *testing.T) {
	s := newServer(t)
	recipePort, webPort := freePort(t), freePort(t)
	zipkinHost := fmt.Sprintf("127.0.0.1:%d", s.zipkin)
	nodeService(t, "seed-recipe-api.js", "HOST=127.0.0.1", fmt.Sprintf("PORT=%d", recipePort), "ZIPKIN="+zipkinHost)
	nodeService(t, "seed-web-api.js", "HOST=127.0.0.1", fmt.Sprintf("PORT=%d", webPort), "ZIPKIN="+zipkinHost,
		fmt.Sprintf("TARGET=127.0.0.1:%d", recipePort))
	const requests = 5
	var traceIDs []string
	for i := 0; i < requests; i++ {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", webPort))
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Trace        string
			ProducerData struct{ Recipe struct{ ID int } } `json:"producer_data"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if body.Trace == "" || body.ProducerData.Recipe.ID != 42 {
			t.Fatalf("web-api answered %+v", body)
		}
		traceIDs = append(traceIDs, body.Trace)
	}
	zbase := fmt.Sprintf("http://%s", zipkinHost)
	for _, id := range traceIDs {
		var spans []zspan
		eventually(t, 10*time.Second, func() error {
			spans = nil
			s.getJSON(t, zbase, "/api/v2/trace/"+id, &spans)
			if len(spans) != 3 {
				return fmt.Errorf("trace %s: %d spans: %+v", id, len(spans), spans)
			}
			return nil
		})
		by := map[string]zspan{}
		for _, sp := range spans {
			by[sp.svc()+"/"+sp.Kind] = sp
		}
		root, client, server := by["web-api/SERVER"], by["web-api/CLIENT"], by["recipe-api/SERVER"]
		if root.Name != "get_root" || root.ParentID != "" || client.ParentID != root.ID || server.Name != "get_recipe" ||
			server.ID != client.ID || server.ParentID != root.ID {
			t.Fatalf("trace %s: tree %+v", id, spans)
		}
		if port, ok := client.RemoteEndpoint["port"].(float64); !ok || int(port) != recipePort {
			t.Fatalf("client span's remote port %v (sent as a string), want %d", client.RemoteEndpoint["port"], recipePort)
		}
	}
	var links []struct {
		Parent, Child string
		CallCount     int
	}
	s.getJSON(t, zbase, fmt.Sprintf("/api/v2/dependencies?endTs=%d&lookback=3600000", time.Now().UnixMilli()), &links)
	if len(links) != 1 || links[0].Parent != "web-api" || links[0].Child != "recipe-api" || links[0].CallCount != requests {
		t.Fatalf("links %+v, want web-api → recipe-api × %d", links, requests)
	}
	if bad := s.metric(`obs_zipkin_bad_requests_total{reason="decode"}`); bad != 0 {
		t.Fatalf("%v span POSTs refused", bad)
	}
}

// braveProto is a zipkin.proto3 ListOfSpans as Brave (zipkin-reporter-java)
// writes it for a 64-bit trace: 8-byte trace_id, which zipkin-go's own
// decoder refuses.
func braveProto(traceID, spanID, parentID uint64, ts time.Time) []byte {
	be := func(v uint64) []byte {
		return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	field := func(b []byte, num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
	}
	var local []byte
	local = field(local, 1, []byte("inventory"))
	local = field(local, 2, []byte{10, 0, 0, 7})
	local = protowire.AppendVarint(protowire.AppendTag(local, 4, protowire.VarintType), 8080)
	var tag []byte
	tag = field(tag, 1, []byte("http.path"))
	tag = field(tag, 2, []byte("/items/7"))
	var span []byte
	span = field(span, 1, be(traceID))
	span = field(span, 2, be(parentID))
	span = field(span, 3, be(spanID))
	span = protowire.AppendVarint(protowire.AppendTag(span, 4, protowire.VarintType), 2) // SERVER
	span = field(span, 5, []byte("get /items/{id}"))
	span = protowire.AppendFixed64(protowire.AppendTag(span, 6, protowire.Fixed64Type), uint64(ts.UnixMicro()))
	span = protowire.AppendVarint(protowire.AppendTag(span, 7, protowire.VarintType), 1500)
	span = field(span, 8, local)
	span = field(span, 11, tag)
	span = protowire.AppendVarint(protowire.AppendTag(span, 13, protowire.VarintType), 1) // shared
	return field(nil, 1, span)
}

func TestTracesBraveProtoWith64BitTraceID(t *testing.T) {
	s := newServer(t)
	zbase := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)
	resp, err := http.Post(zbase+"/api/v2/spans", "application/x-protobuf", bytes.NewReader(braveProto(0x5af7183fb1d4cf5f, 0x352bff9a74ca9ad2, 0x6b221d5bc9e6496c, time.Now())))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST proto: %d %s", resp.StatusCode, msg)
	}
	var spans []zspan
	s.getJSON(t, zbase, "/api/v2/trace/5af7183fb1d4cf5f", &spans)
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	sp := spans[0]
	if sp.TraceID != "5af7183fb1d4cf5f" || sp.ID != "352bff9a74ca9ad2" || sp.ParentID != "6b221d5bc9e6496c" || sp.Kind != "SERVER" || !sp.Shared ||
		sp.svc() != "inventory" || sp.LocalEndpoint["ipv4"] != "10.0.0.7" || sp.Tags["http.path"] != "/items/7" || sp.Duration != 1500 {
		t.Fatalf("stored %+v", sp)
	}
}

// zipkin-js reports JSON_V1 by default; a server-only v1 span (sr/ss, no
// span timestamp) becomes a shared SERVER span, its binary annotations its
// tags, and the client half keeps its own.
func TestTracesZipkinJSV1ServerSpans(t *testing.T) {
	s := newServer(t)
	cmd := exec.Command("node", "zipkin-app.js", fmt.Sprint(s.zipkin))
	cmd.Dir = nodeModules(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node zipkin-app.js: %v\n%s", err, out)
	}
	traceID := strings.TrimSpace(string(out))
	zbase := fmt.Sprintf("http://127.0.0.1:%d", s.zipkin)
	var spans []zspan
	eventually(t, 10*time.Second, func() error {
		spans = nil
		s.getJSON(t, zbase, "/api/v2/trace/"+traceID, &spans)
		if len(spans) != 3 {
			return fmt.Errorf("%d spans", len(spans))
		}
		return nil
	})
	by := map[string]zspan{}
	for _, sp := range spans {
		by[sp.svc()+"/"+sp.Kind] = sp
	}
	server, client := by["node-recipe/SERVER"], by["node-web/CLIENT"]
	if !server.Shared || server.ID != client.ID || server.Duration <= 0 || server.Timestamp <= 0 {
		t.Fatalf("server half %+v (client %+v)", server, client)
	}
	if server.Tags["http.path"] != "/recipes/42" || client.Tags["http.path"] != "/recipes/42" || client.RemoteEndpoint["serviceName"] != "node-recipe" {
		t.Fatalf("tags went to the wrong half: server %v, client %v", server.Tags, client.Tags)
	}
}
