package logstest

import (
	"context"
	"fmt"
	"time"

	"github.com/obs-dev/obs/store/logs"
)

// StoreAnswers asks a store directly: every page of Search, and both
// CountMatches and the histogram's total, which must agree. compile is the
// query language (KQL), passed in so that this package stays below it.
func StoreAnswers(st *logs.Store, compile func(string) (logs.Matcher, error), now time.Time) Answerer {
	return storeAnswers{st, compile, logs.Range{From: now.Add(-10 * 24 * time.Hour), To: now.Add(time.Hour)}}
}

type storeAnswers struct {
	st      *logs.Store
	compile func(string) (logs.Matcher, error)
	rng     logs.Range
}

func (a storeAnswers) Search(q string) ([][]byte, error) {
	m, err := a.compile(q)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	cursor := ""
	for {
		res, err := a.st.Search(context.Background(), logs.SearchRequest{Match: m, Range: a.rng, Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, h := range res.Hits {
			out = append(out, h.Raw)
		}
		if res.Next == "" {
			return out, nil
		}
		cursor = res.Next
	}
}

func (a storeAnswers) Count(q string) (int, error) {
	m, err := a.compile(q)
	if err != nil {
		return 0, err
	}
	n, err := a.st.CountMatches(context.Background(), m, a.rng)
	if err != nil {
		return 0, err
	}
	_, h, err := a.st.Histogram(context.Background(), m, a.rng, time.Hour)
	if err != nil {
		return 0, err
	}
	if h != n {
		return 0, fmt.Errorf("histogram total %d, count %d", h, n)
	}
	return n, nil
}
