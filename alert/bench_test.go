package alert

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/obs-dev/obs/configs"
)

// BenchmarkSaveState is the cost of one state write (encode, write, fsync,
// rename, fsync of the directory) with 20 checks holding a full history,
// which every check result pays.
func BenchmarkSaveState(b *testing.B) {
	cfg := testConfig()
	cfg.Services[0].Checks = nil
	for i := 0; i < 20; i++ {
		cfg.Services[0].Checks = append(cfg.Services[0].Checks, configs.CheckConfig{Name: fmt.Sprintf("c%d", i), Type: "tcp", Address: "127.0.0.1:1"})
	}
	e, err := New(Options{Config: cfg, DataDir: b.TempDir(), BaseURL: "http://x", Out: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for name, cs := range e.st.Checks {
		for i := 0; i < keepResults; i++ {
			ok := i%50 != 0
			cs.History = append(cs.History, Result{Check: name, Time: t0.Add(time.Duration(i) * 30 * time.Second), OK: ok, ResponseMs: 12.5, Reason: "connection refused"})
			cs.Runs = append(cs.Runs, Run{Start: t0, Last: t0, OK: ok, N: 1})
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.saveLocked()
		if e.saveErr != nil {
			b.Fatal(e.saveErr)
		}
	}
}
