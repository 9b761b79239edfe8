package logs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/obs-dev/obs/query/kql"
	"github.com/obs-dev/obs/store/logs"
)

func TestCountAfterCacheEviction(t *testing.T) {
	st, err := logs.Open(t.TempDir(), logs.Options{CacheBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().Add(-time.Hour)
	const n = 100000
	var batch []logs.Entry
	for i := 0; i < n; i++ {
		ts := now.Add(time.Duration(i) * 10 * time.Millisecond)
		raw := fmt.Sprintf(`{"@timestamp":%q,"app":"soak","run":"soak123","seq":%d,"severity":"info","message":"GET /recipes/%d %d in %d ms"}`, ts.Format(time.RFC3339Nano), i, i*7919%5000, 200, i%900)
		batch = append(batch, logs.Entry{TS: ts, Raw: []byte(raw)})
		if len(batch) == 100 {
			if err := st.Append(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	st.Flush()
	for _, q := range []string{"run:soak123", "*", "app:soak"} {
		m, err := kql.Compile(q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		r := logs.Range{From: now.Add(-time.Hour), To: time.Now().Add(time.Hour)}
		for k := 0; k < 3; k++ {
			c, err := st.CountMatches(context.Background(), m, r)
			_, total, herr := st.Histogram(context.Background(), m, r, time.Minute)
			t.Logf("%s: count %d (%v) histogram total %d (%v)", q, c, err, total, herr)
			if c != n || total != n {
				t.Errorf("%s: count %d, histogram %d, want %d", q, c, total, n)
			}
		}
	}
}
