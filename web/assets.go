package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// asset is one embedded UI file, prepared once at start: its bytes, a
// gzip copy when that is smaller, and a hash of the content for ETags and
// for the ?v= that index.html puts on every reference.
type asset struct {
	body, gz []byte
	ctype    string
	hash     string
}

// assets serves the UI files. A browser must never run the JS of an older
// obs after an upgrade, yet should not refetch 60 KB on every page load:
// index.html is revalidated every time (no-cache + ETag, a 304 when
// nothing changed) and names app.js and app.css by content hash
// (/ui/app.js?v=<hash>), so those URLs can be cached as immutable — a new
// obs writes new URLs.
type assets struct {
	files map[string]*asset // by path under ui/, "index.html", "app.js"
}

func loadAssets(fsys fs.FS) (*assets, error) {
	a := &assets{files: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		a.files[p] = newAsset(p, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	idx, ok := a.files["index.html"]
	if !ok {
		return nil, fmt.Errorf("embedded UI has no index.html")
	}
	html := string(idx.body)
	for p, f := range a.files {
		if p != "index.html" {
			html = strings.ReplaceAll(html, `"/ui/`+p+`"`, `"/ui/`+p+`?v=`+f.hash+`"`)
		}
	}
	a.files["index.html"] = newAsset("index.html", []byte(html))
	return a, nil
}

func newAsset(name string, b []byte) *asset {
	sum := sha256.Sum256(b)
	f := &asset{body: b, hash: hex.EncodeToString(sum[:8]), ctype: mime.TypeByExtension(path.Ext(name))}
	if f.ctype == "" {
		f.ctype = http.DetectContentType(b)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if z.Len() < len(b) {
		f.gz = z.Bytes()
	}
	return f
}

// serve writes file name; immutable says the URL carried the file's hash.
func (a *assets) serve(w http.ResponseWriter, r *http.Request, name string) {
	f, ok := a.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("Vary", "Accept-Encoding")
	if v := r.URL.Query().Get("v"); v != "" && v == f.hash {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	body, etag := f.body, `"`+f.hash+`"`
	if f.gz != nil && acceptsGzip(r) {
		body, etag = f.gz, `"`+f.hash+`-gz"`
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0"
		}
	}
	return false
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
