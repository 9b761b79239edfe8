package logs

import "github.com/prometheus/client_golang/prometheus"

// Collectors exports the store's counters in Prometheus form.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_logs_stored_total", Help: "Log events stored (searchable)."},
			func() float64 { return float64(s.Stats.Stored.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_logs_dropped_total", Help: "Log events dropped because the ingest queue was full."},
			func() float64 { return float64(s.Stats.Dropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_logs_write_errors_total", Help: "Log events that could not be written (disk full, I/O errors)."},
			func() float64 { return float64(s.Stats.WriteError.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_logs_queue_events", Help: "Log events waiting for the writer."},
			func() float64 { return float64(s.Stats.Queued.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_logs_disk_bytes", Help: "Bytes on disk under the logs directory."},
			func() float64 { return float64(s.DiskBytes()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "obs_logs_fields_rejected_total", Help: "Field paths not indexed because a block reached its distinct-field cap (events are kept whole)."},
			func() float64 {
				n := int64(0)
				for _, p := range s.partitionList() {
					n += p.fieldsRejected.Load()
				}
				return float64(n)
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_logs_queue_bytes", Help: "Bytes of log events waiting for the writer."},
			func() float64 { return float64(s.Stats.QueuedB.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_logs_partitions", Help: "Day partitions kept."},
			func() float64 { return float64(len(s.Partitions())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "obs_logs_cache_bytes", Help: "Decoded block parts (metas, row times, columns, bloom filters) kept for queries, estimated."},
			func() float64 { return float64(s.cache.bytes()) }),
	}
}
