package web

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/obs-dev/obs/store/metrics"
)

// RecordSelf writes obs's own obs_* metrics into the TSDB every interval as
// obs.self.<name> (labels kept), so that the "obs" dashboard can graph its
// ingest rates and drops like any other metric.
func RecordSelf(ctx context.Context, g prometheus.Gatherer, w interface {
	Write(context.Context, []metrics.Sample) error
}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fams, err := g.Gather()
			if err != nil {
				continue
			}
			var out []metrics.Sample
			for _, f := range fams {
				name := f.GetName()
				if len(name) < 4 || name[:4] != "obs_" {
					continue
				}
				for _, m := range f.GetMetric() {
					var v float64
					switch {
					case m.GetCounter() != nil:
						v = m.GetCounter().GetValue()
					case m.GetGauge() != nil:
						v = m.GetGauge().GetValue()
					default:
						continue
					}
					s := metrics.Sample{Name: "obs.self." + name, TS: now.UnixMilli(), Value: v}
					for _, l := range m.GetLabel() {
						s.Labels = append(s.Labels, metrics.Label{Name: l.GetName(), Value: l.GetValue()})
					}
					out = append(out, s)
				}
			}
			w.Write(ctx, out)
		}
	}
}
