package statsd

import (
	"bytes"

	"github.com/obs-dev/obs/store/metrics"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options are Etsy's config options that change aggregation.
type Options struct {
	FlushInterval    time.Duration
	PercentThreshold []float64 // default [90]
	// Histogram bins per metric-name substring, as Etsy's "histogram" option.
	Histogram       []HistogramConf
	DeleteIdleStats bool
	// Each defaults to DeleteIdleStats when nil.
	DeleteCounters, DeleteTimers, DeleteGauges, DeleteSets *bool
	// MaxSeries caps distinct aggregated names (with tags); new ones beyond
	// it are rejected and counted.
	MaxSeries int
}

// HistogramConf is one entry of Etsy's histogram option; an upper bound of
// +Inf is the "inf" bin.
type HistogramConf struct {
	Metric string
	Bins   []float64
}

// Sample is one flushed value: a Graphite path, DogStatsD tags as labels.
type Sample = metrics.Sample

// Label is one tag.
type Label = metrics.Label

// series is the key of one aggregate: sanitised name and canonical tags.
type series struct {
	name string
	tags []Label
}

type timerData struct {
	values     []float64
	count      float64 // sum of 1/rate
	sum, sumSq float64 // running, to refuse values that would overflow
}

// Aggregator holds what arrived since the last flush.
type Aggregator struct {
	opts Options

	mu sync.Mutex
	// Values are pointers so that updating a known series is a map lookup,
	// not an assignment (which would allocate the key string every time).
	counters map[string]*float64
	timers   map[string]*timerData
	gauges   map[string]*float64
	sets     map[string]map[string]struct{}
	meta     map[string]series // key -> name and tags
	// timestamped DogStatsD values (|T) bypass aggregation.
	direct []Sample

	lastFlush time.Time
	flushed   bool // a flush happened: Etsy reports the lag from then on
	keyBuf    []byte
	addFn     func(Metric) // a.addLocked, bound once: a method value allocates
	// Rejected counts names refused by the MaxSeries cap.
	Rejected int64
	// Internal counters, flushed as statsd.* like Etsy's.
	badLines, packets, metricsReceived float64
	totalBad                           int64 // never reset, for /metrics
	totalMetrics, totalPackets         int64 // never reset, for /metrics
}

// Totals returns packets and metric values received since start.
func (a *Aggregator) Totals() (packets, metrics int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.totalPackets, a.totalMetrics
}

// NewAggregator returns an empty aggregator.
func NewAggregator(o Options) *Aggregator {
	if o.FlushInterval <= 0 {
		o.FlushInterval = 10 * time.Second
	}
	if o.PercentThreshold == nil {
		o.PercentThreshold = []float64{90}
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = 100000
	}
	a := &Aggregator{opts: o, counters: map[string]*float64{}, timers: map[string]*timerData{},
		gauges: map[string]*float64{}, sets: map[string]map[string]struct{}{}, meta: map[string]series{},
		lastFlush: time.Now()}
	a.addFn = a.addLocked
	return a
}

func (o Options) del(p *bool) bool {
	if p != nil {
		return *p
	}
	return o.DeleteIdleStats
}

// Packet records one received packet (statsd.packets_received).
func (a *Aggregator) Packet() {
	a.mu.Lock()
	a.packets++
	a.mu.Unlock()
}

// Bad counts bad lines (statsd.bad_lines_seen).
func (a *Aggregator) Bad(n int) {
	if n == 0 {
		return
	}
	a.mu.Lock()
	a.badLines += float64(n)
	a.totalBad += int64(n)
	a.mu.Unlock()
}

// AddLines parses a packet's lines and aggregates them under one lock.
// Event and service-check lines go to other, if set.
func (a *Aggregator) AddLines(payload []byte, other func(kind LineKind, line []byte)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.packets++
	a.totalPackets++
	for len(payload) > 0 {
		nl := bytes.IndexByte(payload, '\n')
		var line []byte
		if nl < 0 {
			line, payload = payload, nil
		} else {
			line, payload = payload[:nl], payload[nl+1:]
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		switch k := Classify(line); k {
		case LineEmpty:
			continue
		case LineEvent, LineServiceCheck:
			if other != nil {
				other(k, line)
			}
			continue
		}
		// Etsy counts every non-empty metric line, good or bad.
		a.metricsReceived++
		bad := ParseLine(line, a.addFn)
		a.badLines += float64(bad)
		a.totalBad += int64(bad)
	}
}

// key builds the aggregation key "name" or "name|#k:v,..." (tags sorted) in
// a reused buffer; the caller copies it only when the series is new.
func (a *Aggregator) key(m *Metric) []byte {
	if len(m.Tags) == 0 && cleanKey(m.Key) {
		return m.Key // already a valid key: no copy
	}
	a.keyBuf = SanitizeKey(a.keyBuf[:0], m.Key)
	if len(m.Tags) > 0 {
		a.keyBuf = append(a.keyBuf, "|#"...)
		a.keyBuf = appendSortedTags(a.keyBuf, m.Tags)
	}
	return a.keyBuf
}

func appendSortedTags(dst, tags []byte) []byte {
	if bytes.IndexByte(tags, ',') < 0 {
		return append(dst, tags...)
	}
	parts := bytes.Split(tags, []byte(","))
	sort.Slice(parts, func(i, j int) bool { return bytes.Compare(parts[i], parts[j]) < 0 })
	for i, p := range parts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, p...)
	}
	return dst
}

// register admits a new series under the cap; it returns the stored key.
func (a *Aggregator) register(k []byte, m *Metric) (string, bool) {
	if len(a.meta) >= a.opts.MaxSeries {
		a.Rejected++
		return "", false
	}
	ks := string(k)
	name := ks
	var tags []Label
	if i := strings.Index(ks, "|#"); i >= 0 {
		name = ks[:i]
		tags = parseTags(ks[i+2:])
	}
	a.meta[ks] = series{name: name, tags: tags}
	return ks, true
}

// parseTags turns "k:v,flag" into labels; names are made Prometheus-safe.
func parseTags(s string) []Label {
	var out []Label
	for _, t := range strings.Split(s, ",") {
		if t == "" {
			continue
		}
		name, val, ok := strings.Cut(t, ":")
		if !ok {
			val = "true"
		}
		name = labelName(name)
		if name == "" || name == "__name__" || val == "" {
			continue
		}
		out = append(out, Label{Name: name, Value: val})
	}
	return out
}

func labelName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// bad counts one refused value in statsd.bad_lines_seen; a.mu is held.
func (a *Aggregator) bad() {
	a.badLines++
	a.totalBad++
}

func (a *Aggregator) addLocked(mv Metric) {
	m := &mv
	a.totalMetrics++
	k := a.key(m)
	if len(k) == 0 {
		a.bad()
		return
	}
	if m.TS > 0 && time.Unix(m.TS, 0).After(time.Now().Add(MaxFuture)) {
		a.bad() // would stop the TSDB taking anything older
		return
	}
	// 1/rate overflows for rates such as 1e-320: refused like NaN.
	if math.IsInf(1/m.Rate, 0) {
		a.bad()
		return
	}
	if m.TS > 0 && (m.Type == Counter || m.Type == Gauge) {
		d := a.directSample(k, m)
		if math.IsInf(d.Value, 0) {
			a.bad()
			return
		}
		a.direct = append(a.direct, d)
		return
	}
	switch m.Type {
	case Counter:
		v := a.counters[string(k)]
		if v == nil {
			ks, admitted := a.register(k, m)
			if !admitted {
				return
			}
			v = new(float64)
			a.counters[ks] = v
		}
		sum := *v + m.Num/m.Rate
		if math.IsInf(sum, 0) {
			a.bad() // the running sum would overflow: refused, the sum kept
			return
		}
		*v = sum
	case Timer:
		td := a.timers[string(k)]
		if td == nil {
			ks, admitted := a.register(k, m)
			if !admitted {
				return
			}
			td = &timerData{}
			a.timers[ks] = td
		}
		// Refuse a value whose sum or square would overflow the flushed
		// statistics (Etsy would flush Infinity).
		sum, sumSq := td.sum+m.Num, td.sumSq+m.Num*m.Num
		if math.IsInf(sum, 0) || math.IsInf(sumSq, 0) || math.IsInf(td.count+1/m.Rate, 0) {
			a.bad()
			return
		}
		td.values = append(td.values, m.Num)
		td.count += 1 / m.Rate
		td.sum, td.sumSq = sum, sumSq
	case Gauge:
		g := a.gauges[string(k)]
		if g == nil {
			ks, admitted := a.register(k, m)
			if !admitted {
				return
			}
			g = new(float64)
			a.gauges[ks] = g
		}
		// Etsy: a sign makes a delta only if the gauge exists and is non-zero.
		if *g != 0 && len(m.Value) > 0 && (m.Value[0] == '+' || m.Value[0] == '-') {
			if math.IsInf(*g+m.Num, 0) {
				a.bad()
				return
			}
			*g += m.Num
		} else {
			*g = m.Num
		}
	case Set:
		s := a.sets[string(k)]
		if s == nil {
			ks, admitted := a.register(k, m)
			if !admitted {
				return
			}
			s = map[string]struct{}{}
			a.sets[ks] = s
		}
		if _, ok := s[string(m.Value)]; !ok {
			s[string(m.Value)] = struct{}{}
		}
	}
}

func (a *Aggregator) directSample(k []byte, m *Metric) Sample {
	ks := string(k)
	name, tags := ks, []Label(nil)
	if i := strings.Index(ks, "|#"); i >= 0 {
		name, tags = ks[:i], parseTags(ks[i+2:])
	}
	s := Sample{Labels: tags, TS: m.TS * 1000, Value: m.Num}
	if m.Type == Gauge {
		s.Name = "stats.gauges." + name
	} else {
		s.Name = "stats_counts." + name
		s.Value = m.Num / m.Rate
	}
	return s
}

// Flush computes Etsy's flushed values at now and resets state as Etsy does.
func (a *Aggregator) Flush(now time.Time) []Sample {
	start := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	ts := now.UnixMilli()
	ts = ts / 1000 * 1000 // Etsy flushes whole seconds
	secs := a.opts.FlushInterval.Seconds()
	var out []Sample
	emit := func(name string, tags []Label, v float64) {
		out = append(out, Sample{Name: name, Labels: tags, TS: ts, Value: v})
	}
	// Internal counters first, then the user's.
	for _, c := range []struct {
		name string
		v    float64
	}{{"statsd.bad_lines_seen", a.badLines}, {"statsd.packets_received", a.packets}, {"statsd.metrics_received", a.metricsReceived}} {
		emit("stats."+c.name, nil, c.v/secs)
		emit("stats_counts."+c.name, nil, c.v)
	}
	for k, v := range a.counters {
		s := a.meta[k]
		emit("stats."+s.name, s.tags, *v/secs)
		emit("stats_counts."+s.name, s.tags, *v)
	}
	for k, td := range a.timers {
		s := a.meta[k]
		prefix := "stats.timers." + s.name + "."
		for _, st := range TimerStats(td.values, td.count, secs, a.opts.PercentThreshold, a.bins(s.name)) {
			emit(prefix+st.Name, s.tags, st.Value)
		}
	}
	for k, v := range a.gauges {
		s := a.meta[k]
		emit("stats.gauges."+s.name, s.tags, *v)
	}
	for k, set := range a.sets {
		s := a.meta[k]
		emit("stats.sets."+s.name+".count", s.tags, float64(len(set)))
	}
	// Etsy's graphite backend counts each key per type (a key sent as a
	// counter and a timer twice), its own three counters and, from the
	// second flush on (when it has a previous one), the lag gauge; the
	// name has no stats. prefix in its legacy namespace.
	numStats := len(a.counters) + len(a.timers) + len(a.gauges) + len(a.sets) + 3
	if a.flushed {
		lag := now.Sub(a.lastFlush) - a.opts.FlushInterval
		emit("stats.gauges.statsd.timestamp_lag", nil, lag.Seconds())
		numStats++
	}
	emit("statsd.numStats", nil, float64(numStats))
	emit("stats.statsd.processing_time", nil, float64(time.Since(start).Milliseconds()))
	out = append(out, a.direct...)
	a.direct = nil
	a.lastFlush, a.flushed = now, true
	a.reset()
	return out
}

func (a *Aggregator) reset() {
	a.badLines, a.packets, a.metricsReceived = 0, 0, 0
	o := a.opts
	for k, v := range a.counters {
		if o.del(o.DeleteCounters) {
			delete(a.counters, k)
			delete(a.meta, k)
		} else {
			*v = 0
		}
	}
	for k, td := range a.timers {
		if o.del(o.DeleteTimers) {
			delete(a.timers, k)
			delete(a.meta, k)
		} else {
			td.values, td.count, td.sum, td.sumSq = td.values[:0], 0, 0, 0
		}
	}
	for k := range a.sets {
		if o.del(o.DeleteSets) {
			delete(a.sets, k)
			delete(a.meta, k)
		} else {
			a.sets[k] = map[string]struct{}{}
		}
	}
	if o.del(o.DeleteGauges) {
		for k := range a.gauges {
			delete(a.gauges, k)
			delete(a.meta, k)
		}
	}
}

func (a *Aggregator) bins(name string) []float64 {
	for _, h := range a.opts.Histogram {
		if strings.Contains(name, h.Metric) {
			return h.Bins
		}
	}
	return nil
}

// Stat is one named timer statistic.
type Stat struct {
	Name  string
	Value float64
}

// TimerStats is process_metrics.js for one timer: values (any order), count
// (sum of 1/sampleRate) and the flush interval in seconds.
func TimerStats(values []float64, count, secs float64, pcts []float64, bins []float64) []Stat {
	if len(values) == 0 {
		return []Stat{{"count", 0}, {"count_ps", 0}}
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	n := len(v)
	cum := make([]float64, n)
	cumSq := make([]float64, n)
	cum[0], cumSq[0] = v[0], v[0]*v[0]
	for i := 1; i < n; i++ {
		cum[i] = cum[i-1] + v[i]
		cumSq[i] = cumSq[i-1] + v[i]*v[i]
	}
	var out []Stat
	// As in Etsy, these carry over between thresholds when there is one value.
	sum, sumSq, mean, boundary := v[0], v[0]*v[0], v[0], v[n-1]
	for _, pct := range pcts {
		num := n
		if n > 1 {
			num = int(jsRound(math.Abs(pct) / 100 * float64(n)))
			if num == 0 {
				continue
			}
			if pct > 0 {
				boundary, sum, sumSq = v[num-1], cum[num-1], cumSq[num-1]
			} else {
				boundary = v[n-num]
				sum = cum[n-1] - at(cum, n-num-1)
				sumSq = cumSq[n-1] - at(cumSq, n-num-1)
			}
			mean = sum / float64(num)
		}
		clean := pctName(pct)
		out = append(out, Stat{"count_" + clean, float64(num)}, Stat{"mean_" + clean, mean})
		if pct > 0 {
			out = append(out, Stat{"upper_" + clean, boundary})
		} else {
			out = append(out, Stat{"lower_" + clean, boundary})
		}
		out = append(out, Stat{"sum_" + clean, sum}, Stat{"sum_squares_" + clean, sumSq})
	}
	sum, sumSq = cum[n-1], cumSq[n-1]
	mean = sum / float64(n)
	var diffs float64
	for _, x := range v {
		diffs += (x - mean) * (x - mean)
	}
	mid := n / 2
	median := v[mid]
	if n%2 == 0 {
		median = (v[mid-1] + v[mid]) / 2
	}
	out = append(out,
		Stat{"std", math.Sqrt(diffs / float64(n))}, Stat{"upper", v[n-1]}, Stat{"lower", v[0]},
		Stat{"count", count}, Stat{"count_ps", count / secs}, Stat{"sum", sum}, Stat{"sum_squares", sumSq},
		Stat{"mean", mean}, Stat{"median", median})
	i := 0
	for _, b := range bins {
		freq := 0
		for ; i < n && (math.IsInf(b, 1) || v[i] < b); i++ {
			freq++
		}
		out = append(out, Stat{"histogram.bin_" + binName(b), float64(freq)})
	}
	return out
}

// at returns s[i], or 0 for i = -1 (JavaScript's undefined turns the
// subtraction into NaN there; Etsy only reaches it when all values are in
// the top N, where the sum is the whole sum).
func at(s []float64, i int) float64 {
	if i < 0 {
		return 0
	}
	return s[i]
}

// jsRound is JavaScript's Math.round: halves round up (towards +Inf).
func jsRound(x float64) float64 { return math.Floor(x + 0.5) }

// pctName is Etsy's clean_pct: "99.9" -> "99_9", "-20" -> "top20".
func pctName(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	s = strings.Replace(s, ".", "_", 1)
	return strings.Replace(s, "-", "top", 1)
}

func binName(b float64) string {
	if math.IsInf(b, 1) {
		return "inf"
	}
	return strings.Replace(strconv.FormatFloat(b, 'f', -1, 64), ".", "_", 1)
}
