package logs

import (
	"context"
	"testing"
	"time"
)

// BenchmarkHistogramHour: an hour's histogram over 360,000 events in 180
// blocks, every meta in the cache: what the UI's Discover bar chart costs
// per refresh once data is there (the soak asks one every 36 s).
func BenchmarkHistogramHour(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.Append(context.Background(), mkEntries(360000, day, 10*time.Millisecond))
	s.Flush()
	r := Range{From: day, To: day.Add(time.Hour)}
	b.ResetTimer()
	for range b.N {
		if _, total, err := s.Histogram(context.Background(), all{}, r, time.Minute); err != nil || total != 360000 {
			b.Fatal(total, err)
		}
	}
}
