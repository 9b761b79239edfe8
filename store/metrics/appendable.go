package metrics

import (
	"context"
	"errors"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// Appendable makes a Writer (a tee of the TSDB and a remote engine, or the
// forwarder alone) usable where intake appends in transactions (carbon):
// a transaction's samples go to the Writer as one batch on Commit.
func Appendable(w Writer) storage.Appendable {
	if st, ok := w.(*Store); ok {
		return st // the TSDB's own appender: series by reference
	}
	return writerAppendable{w}
}

type writerAppendable struct{ w Writer }

func (a writerAppendable) Appender(ctx context.Context) storage.Appender {
	return &batchAppender{ctx: ctx, w: a.w}
}

// batchAppender embeds storage.Appender only to satisfy the interface's
// rarely used methods (exemplars, histograms, metadata), which carbon never
// calls; they would panic on the nil embedded value.
type batchAppender struct {
	storage.Appender
	ctx     context.Context
	w       Writer
	samples []Sample
}

var errNotSupported = errors.New("not supported when metrics are forwarded")

func (a *batchAppender) Append(_ storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	return a.add(l, t, v)
}

func (a *batchAppender) add(l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	s := Sample{TS: t, Value: v}
	l.Range(func(lb labels.Label) {
		if lb.Name == labels.MetricName {
			s.Name = lb.Value
		} else {
			s.Labels = append(s.Labels, Label{Name: lb.Name, Value: lb.Value})
		}
	})
	if s.Name == "" {
		return 0, errNotSupported
	}
	a.samples = append(a.samples, s)
	return 0, nil // no series references: each sample carries its labels
}

func (a *batchAppender) Commit() error {
	samples := a.samples
	a.samples = nil
	return a.w.Write(a.ctx, samples)
}

func (a *batchAppender) Rollback() error { a.samples = nil; return nil }

// AppendableV2 is Appendable for intake that appends through Prometheus's
// second appender interface (the OTLP translator): the TSDB's own, which
// takes native histograms too, or a batch of float samples for a Writer
// that forwards (remote write carries floats only here; a histogram
// append is refused with an error saying so).
func AppendableV2(w Writer) storage.AppendableV2 {
	if st, ok := w.(*Store); ok {
		return st
	}
	return writerAppendable{w}
}

func (a writerAppendable) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &batchAppenderV2{batchAppender{ctx: ctx, w: a.w}}
}

// batchAppenderV2 is batchAppender behind the second interface.
type batchAppenderV2 struct{ b batchAppender }

var errHistogramForwarded = errors.New("native histograms are not forwarded to a remote engine: only float samples are")

func (a *batchAppenderV2) Append(_ storage.SeriesRef, l labels.Labels, _, t int64, v float64, h *histogram.Histogram,
	fh *histogram.FloatHistogram, _ storage.AOptions) (storage.SeriesRef, error) {
	if h != nil || fh != nil {
		return 0, errHistogramForwarded
	}
	return a.b.add(l, t, v)
}

func (a *batchAppenderV2) Commit() error   { return a.b.Commit() }
func (a *batchAppenderV2) Rollback() error { return a.b.Rollback() }
