package budget

import (
	"time"

	"github.com/obs-dev/obs/store/logs"
	"github.com/obs-dev/obs/store/metrics"
	"github.com/obs-dev/obs/store/traces"
)

// Logs is the log store's days.
func Logs(st *logs.Store) Signal {
	return Signal{
		Name:  "logs",
		Bytes: st.DiskBytes,
		Units: func() []Unit {
			var out []Unit
			for _, u := range st.Units() {
				out = append(out, Unit{Name: u.Name, Newest: u.Newest, Bytes: u.Bytes})
			}
			return out
		},
		RemoveBefore: st.RemoveBefore,
	}
}

// Metrics is the TSDB's blocks.
func Metrics(st *metrics.Store) Signal {
	return Signal{
		Name:  "metrics",
		Bytes: st.DiskBytes,
		Units: func() []Unit {
			var out []Unit
			for _, b := range st.Blocks() {
				out = append(out, Unit{Name: b.Name, Newest: b.Newest, Bytes: b.Bytes})
			}
			return out
		},
		RemoveBefore: func(t time.Time, _ string) []string { return st.RemoveBefore(t) },
	}
}

// Traces is the span store's hours.
func Traces(st *traces.Store) Signal {
	return Signal{
		Name:  "traces",
		Bytes: st.DiskBytes,
		Units: func() []Unit {
			var out []Unit
			for _, u := range st.Units() {
				out = append(out, Unit{Name: u.Name, Newest: u.Newest, Bytes: u.Bytes})
			}
			return out
		},
		RemoveBefore: func(t time.Time, _ string) []string { return st.RemoveBefore(t) },
	}
}
