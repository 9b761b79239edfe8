package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestUIAssetsCompressedAndCached: the UI goes out gzipped to browsers that
// take it, index.html is revalidated on every load (a 304 when unchanged),
// and it names app.js and app.css by content hash so those are cached for
// good — an upgraded obs writes new URLs, so no browser runs stale JS.
func TestUIAssetsCompressedAndCached(t *testing.T) {
	ts := newTestServer(t, "")
	tr := &http.Transport{DisableCompression: true} // see the bytes as sent
	get := func(path string, hdr map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	gz := map[string]string{"Accept-Encoding": "gzip, deflate, br"}

	resp, plainIndex := get("/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index without gzip: %d %v", resp.StatusCode, resp.Header)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index.html Cache-Control %q: must revalidate", cc)
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("the CSP is gone from the UI page")
	}
	refs := regexp.MustCompile(`"/ui/(app\.(?:js|css))\?v=([0-9a-f]{16})"`).FindAllStringSubmatch(string(plainIndex), -1)
	if len(refs) != 2 {
		t.Fatalf("index.html names %d hashed assets, want app.js and app.css:\n%s", len(refs), plainIndex)
	}

	resp, zipped := get("/", gz)
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("index with gzip: %v", resp.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(string(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != string(plainIndex) {
		t.Fatal("gzipped index.html differs from the plain one")
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := get("/", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating an unchanged index.html: %d, want 304", resp.StatusCode)
	}

	for _, ref := range refs {
		file, hash := ref[1], ref[2]
		resp, body := get("/ui/"+file+"?v="+hash, gz)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: %d %v", file, resp.StatusCode, resp.Header)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("%s by hash: Cache-Control %q, want immutable", file, cc)
		}
		_, plain := get("/ui/"+file, nil)
		if len(body) >= len(plain) {
			t.Errorf("%s: gzipped %d bytes, plain %d", file, len(body), len(plain))
		}
		// Another hash (an old page asking) or none: revalidate, never pin.
		for _, q := range []string{"", "?v=0000000000000000"} {
			if resp, _ := get("/ui/"+file+q, nil); resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("ETag") == "" {
				t.Errorf("%s%s: %v, want no-cache with an ETag", file, q, resp.Header)
			}
		}
	}
	if resp, _ := get("/ui/app.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that refused it (q=0)")
	}
	if resp, _ := get("/ui/nope.js", nil); resp.StatusCode != 404 {
		t.Errorf("missing asset: %d", resp.StatusCode)
	}
}
