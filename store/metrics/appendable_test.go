package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// batches is a Writer that keeps what it is given.
type batches [][]Sample

func (b *batches) Write(_ context.Context, s []Sample) error { *b = append(*b, s); return nil }

// Through a forwarding Writer, AppenderV2 batches floats into one Write
// on Commit and refuses native histograms, saying why.
func TestAppendableV2Writer(t *testing.T) {
	var got batches
	app := AppendableV2(&got).AppenderV2(context.Background())
	l := labels.FromStrings(labels.MetricName, "up", "job", "a")
	if _, err := app.Append(0, l, 0, 1000, 1, nil, nil, storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(0, l, 0, 2000, 0, &histogram.Histogram{Count: 1}, nil, storage.AOptions{}); !errors.Is(err, errHistogramForwarded) {
		t.Errorf("histogram: %v", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 1 || got[0][0].Name != "up" || got[0][0].Labels[0] != (Label{"job", "a"}) {
		t.Errorf("batches %+v", got)
	}
}

// Into the TSDB, AppenderV2 stores floats and native histograms and
// counts what the TSDB refuses, as Appender does.
func TestAppenderV2Store(t *testing.T) {
	st, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UnixMilli()
	app := AppendableV2(st).AppenderV2(context.Background())
	h := &histogram.Histogram{Count: 3, Sum: 7, Schema: 0, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}}
	app.Append(0, labels.FromStrings(labels.MetricName, "lat"), 0, now, 0, h, nil, storage.AOptions{})
	app.Append(0, labels.FromStrings(labels.MetricName, "up"), 0, now, 1, nil, nil, storage.AOptions{})
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if st.Written.Load() != 2 {
		t.Errorf("written %d", st.Written.Load())
	}
	// Listing series reads past the histogram (it panicked: /api/v1/series
	// over an OTLP exponential histogram).
	ss, err := st.Select(context.Background(), now-1000, now+1000, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	if err != nil || len(ss) != 2 || ss[0].Name != "lat" || len(ss[0].Values) != 0 || ss[1].Name != "up" || len(ss[1].Values) != 1 {
		t.Errorf("select: %v %+v", err, ss)
	}
	app = st.AppenderV2(context.Background())
	app.Append(0, labels.FromStrings(labels.MetricName, "up"), 0, now, 2, nil, nil, storage.AOptions{}) // another value, same time
	if err := app.Commit(); !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) || st.Failed.Load() != 1 {
		t.Errorf("duplicate: %v, failed %d", err, st.Failed.Load())
	}
}
