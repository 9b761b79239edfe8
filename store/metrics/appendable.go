package metrics

import (
	"context"
	"errors"

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
