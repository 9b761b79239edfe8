package logs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Range selects events with From <= @timestamp <= To. Zero values are open.
type Range struct{ From, To time.Time }

func (r Range) millis() (int64, int64) {
	from, to := int64(-1<<63), int64(1<<63-1)
	if !r.From.IsZero() {
		from = r.From.UnixMilli()
	}
	if !r.To.IsZero() {
		to = r.To.UnixMilli()
	}
	return from, to
}

// unit is one block (or a head) to evaluate.
type unit struct {
	p    *partition
	meta blockMeta
	head *memHead // set for a head (frozen or not)
}

func (s *Store) units(ctx context.Context, r Range) ([]unit, error) {
	from, to := r.millis()
	var out []unit
	for _, p := range s.partitionList() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dayStart := p.day.UnixMilli()
		if dayStart > to || dayStart+int64(24*time.Hour/time.Millisecond) <= from {
			// Events are partitioned by their own timestamp, so a day
			// outside the range cannot hold a match.
			continue
		}
		p.mu.RLock()
		blocks, heads := p.candidates(from, to)
		p.mu.RUnlock()
		for _, b := range blocks {
			out = append(out, unit{p: p, meta: b})
		}
		for k := range heads {
			h := &heads[k]
			u := unit{p: p, head: h, meta: blockMeta{Seq: h.seq, N: len(h.entries)}}
			u.meta.MinTS, u.meta.MaxTS = h.entries[0].TS.UnixMilli(), h.entries[0].TS.UnixMilli()
			for i := range h.entries {
				t := h.entries[i].TS.UnixMilli()
				u.meta.MinTS, u.meta.MaxTS = min(u.meta.MinTS, t), max(u.meta.MaxTS, t)
			}
			if u.meta.MaxTS >= from && u.meta.MinTS <= to {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// block returns a unit in block form for a query: a v2 block's meta (its
// columns are read as the query asks for them), a v1 block or a head
// turned into that form.
func (s *Store) block(u *unit) (*Block, error) {
	if u.head != nil {
		b := u.p.headBlock(*u.head)
		return newBlock(b.meta, b), nil
	}
	key := cacheKey{part: u.p.name, seq: u.meta.Seq, item: partMeta}
	if u.meta.Ver == 1 {
		key.item = partV1
		v, err := s.cache.get(key, func() (any, int64, error) {
			var ts []int64
			var raws [][]byte
			err := s.withRead(u.p, func() (err error) {
				ts, raws, err = readV1Block(u.p.seg, s.codec, u.meta)
				return err
			})
			if err != nil {
				return nil, 0, err
			}
			b := buildV1(ts, raws)
			size := b.meta.size()
			for _, d := range b.data {
				size += d.size()
			}
			return b, size, nil
		})
		if err != nil {
			return nil, s.damaged(u, err)
		}
		b := v.(*builtBlock)
		return newBlock(b.meta, b), nil
	}
	v, err := s.cache.get(key, func() (any, int64, error) {
		var bm *blockMetaV2
		err := s.withRead(u.p, func() (err error) {
			bm, err = readMetaTS(u.p.seg, s.codec, u.meta, false)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		return bm, bm.size(), nil
	})
	if err != nil {
		return nil, s.damaged(u, err)
	}
	return newBlock(v.(*blockMetaV2), s.columns(u, v.(*blockMetaV2))), nil
}

// columns reads a v2 block's columns through the cache.
func (s *Store) columns(u *unit, bm *blockMetaV2) *encodedBlock {
	p, m := u.p, u.meta
	dataOff := m.Off + int64(m.RawLen)
	return &encodedBlock{meta: bm, cd: s.codec,
		read: func(off, n int) ([]byte, error) {
			b := make([]byte, n)
			err := s.withRead(p, func() error {
				_, err := p.seg.ReadAt(b, dataOff+int64(off))
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("read block %d: %w", m.Seq, err)
			}
			return b, nil
		},
		readMeta: func() (b []byte, err error) {
			err = s.withRead(p, func() (err error) {
				b, err = readMetaBytes(p.seg, s.codec, m)
				return err
			})
			return b, err
		},
		cache: func(item int, load func() (any, int64, error)) (any, error) {
			return s.cache.get(cacheKey{part: p.name, seq: m.Seq, item: int32(item)}, load)
		}}
}

// raw returns the events of a unit's rows, byte for byte as received.
func (s *Store) raw(u *unit, b *Block, rows []int) (map[int][]byte, error) {
	out := make(map[int][]byte, len(rows))
	if u.head != nil {
		for _, r := range rows {
			out[r] = u.head.entries[r].Raw
		}
		return out, nil
	}
	for _, r := range rows {
		raw, err := b.rebuild(nil, r)
		if err != nil {
			return nil, s.damaged(u, fmt.Errorf("block %d row %d: %w", u.meta.Seq, r, err))
		}
		out[r] = raw
	}
	return out, nil
}

// skip says whether err is a block to leave out rather than a failed query.
func skip(err error) bool {
	var be *blockError
	return errors.As(err, &be)
}

// blockError is a block that cannot be read: a query skips it (and /health
// reports it) rather than fail over one damaged block.
type blockError struct{ err error }

func (e *blockError) Error() string { return e.err.Error() }
func (e *blockError) Unwrap() error { return e.err }

func (s *Store) damaged(u *unit, err error) error {
	err = fmt.Errorf("%s: %w", u.p.name, err)
	if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrClosed) { // not a day removed under the query
		s.problem(fmt.Sprintf("%v (queries skip it; run obs admin verify)", err))
	}
	return &blockError{err}
}

// blockDamaged is damaged for an error found in one block's contents
// (its column data or its row times), named by the block's number.
func (s *Store) blockDamaged(u *unit, err error) error {
	return s.damaged(u, fmt.Errorf("block %d: %w", u.meta.Seq, err))
}

// rows evaluates m on a unit, restricted to the time range, and resolves an
// inexact answer by checking the candidate events one by one.
func (s *Store) rows(u *unit, m Matcher, from, to int64) (*Block, Bits, error) {
	b, err := s.block(u)
	if err != nil {
		return nil, nil, err
	}
	bits, exact := m.MatchBlock(b)
	if err := b.Err(); err != nil {
		return nil, nil, s.blockDamaged(u, err)
	}
	if u.meta.MinTS < from || u.meta.MaxTS > to {
		for i := range b.N {
			if t := b.Time(i); (t < from || t > to) && bits.Has(i) {
				bits[i>>6] &^= 1 << uint(i&63)
			}
		}
		if err := b.Err(); err != nil { // the row times, read apart from the meta
			return nil, nil, s.blockDamaged(u, err)
		}
	}
	if exact || bits.Empty() {
		return b, bits, nil
	}
	var cand []int
	bits.Each(func(i int) { cand = append(cand, i) })
	raw, err := s.raw(u, b, cand)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range cand {
		fields, _ := Flatten(raw[i])
		if !m.MatchFields(fields) {
			bits[i>>6] &^= 1 << uint(i&63)
		}
	}
	return b, bits, nil
}

type sortKey struct {
	ts  int64
	day string
	seq uint32
	row uint16
}

// less orders newest first, then by id descending, so that pages are stable.
func (a sortKey) before(b sortKey) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	if a.day != b.day {
		return a.day > b.day
	}
	if a.seq != b.seq {
		return a.seq > b.seq
	}
	return a.row > b.row
}

func (k sortKey) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d|%s|%d|%d", k.ts, k.day, k.seq, k.row)))
}

func parseCursor(c string) (sortKey, error) {
	var k sortKey
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return k, fmt.Errorf("bad cursor: %w", err)
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 4 {
		return k, fmt.Errorf("bad cursor")
	}
	ts, e1 := strconv.ParseInt(parts[0], 10, 64)
	seq, e2 := strconv.ParseUint(parts[2], 10, 32)
	row, e3 := strconv.ParseUint(parts[3], 10, 16)
	if e1 != nil || e2 != nil || e3 != nil {
		return k, fmt.Errorf("bad cursor")
	}
	return sortKey{ts, parts[1], uint32(seq), uint16(row)}, nil
}

// SearchRequest asks for the newest matching events.
type SearchRequest struct {
	Match  Matcher
	Range  Range
	Limit  int
	Cursor string // from a previous SearchResult.Next: continue after it
	// Oldest reverses the order (oldest first); used for "surrounding events".
	Oldest bool
}

// SearchResult is one page of hits, newest first.
type SearchResult struct {
	Hits []Hit
	// Next continues the search after the last hit; "" when there is no more.
	Next string
}

// Search returns matching events newest first.
func (s *Store) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	if req.Limit <= 0 {
		req.Limit = 100
	}
	var after *sortKey
	if req.Cursor != "" {
		k, err := parseCursor(req.Cursor)
		if err != nil {
			return SearchResult{}, err
		}
		after = &k
	}
	from, to := req.Range.millis()
	if after != nil {
		if req.Oldest {
			from = max(from, after.ts)
		} else {
			to = min(to, after.ts)
		}
	}
	units, err := s.units(ctx, Range{From: msTime(from), To: msTime(to)})
	if err != nil {
		return SearchResult{}, err
	}
	// Visit the blocks most likely to hold the first hits first, and stop
	// once no remaining block can beat the page we have.
	if req.Oldest {
		sort.Slice(units, func(i, j int) bool { return units[i].meta.MinTS < units[j].meta.MinTS })
	} else {
		sort.Slice(units, func(i, j int) bool { return units[i].meta.MaxTS > units[j].meta.MaxTS })
	}
	type cand struct {
		k sortKey
		u int
	}
	blocks := map[int]*Block{}
	better := func(a, b sortKey) bool {
		if req.Oldest {
			return b.before(a)
		}
		return a.before(b)
	}
	var cands []cand
	for ui := range units {
		if err := ctx.Err(); err != nil {
			return SearchResult{}, err
		}
		u := &units[ui]
		if len(cands) > req.Limit {
			last := cands[req.Limit].k.ts
			if (!req.Oldest && u.meta.MaxTS < last) || (req.Oldest && u.meta.MinTS > last) {
				break
			}
		}
		blk, bits, err := s.rows(u, req.Match, from, to)
		if skip(err) {
			continue
		}
		if err != nil {
			return SearchResult{}, err
		}
		blocks[ui] = blk
		had := len(cands)
		bits.Each(func(r int) {
			k := sortKey{blk.Time(r), u.p.name, u.meta.Seq, uint16(r)}
			if after != nil && !better(*after, k) {
				return
			}
			cands = append(cands, cand{k, ui})
		})
		if err := blk.Err(); err != nil { // its row times could not be read
			cands = cands[:had]
			if err := s.blockDamaged(u, err); skip(err) {
				continue
			}
			return SearchResult{}, err
		}
		sort.Slice(cands, func(i, j int) bool { return better(cands[i].k, cands[j].k) })
		if len(cands) > req.Limit+1 {
			cands = cands[:req.Limit+1]
		}
	}
	var res SearchResult
	if len(cands) > req.Limit {
		cands = cands[:req.Limit]
		res.Next = cands[len(cands)-1].k.cursor()
	}
	// Rebuild the hits' events, each unit's rows at once.
	want := map[int][]int{}
	for _, c := range cands {
		want[c.u] = append(want[c.u], int(c.k.row))
	}
	raws := map[int]map[int][]byte{}
	for ui, rows := range want {
		raw, err := s.raw(&units[ui], blocks[ui], rows)
		if skip(err) {
			continue
		}
		if err != nil {
			return SearchResult{}, err
		}
		raws[ui] = raw
	}
	for _, c := range cands {
		raw, ok := raws[c.u]
		if !ok {
			continue
		}
		res.Hits = append(res.Hits, Hit{
			ID:  ID{Day: c.k.day, Block: c.k.seq, Row: c.k.row},
			TS:  time.UnixMilli(c.k.ts).UTC(),
			Raw: json.RawMessage(raw[int(c.k.row)]),
		})
	}
	return res, nil
}

func msTime(ms int64) time.Time {
	if ms == int64(-1<<63) || ms == int64(1<<63-1) {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Bucket is one histogram bar.
type Bucket struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
}

// Histo is a histogram's layout over a closed range: buckets start at
// multiples of the interval since the epoch and every bucket of the range
// is listed, as Kibana's Discover draws them. The remote readers fill one
// from their engine's answer, so that their bars line up with the
// embedded store's.
type Histo struct {
	first, iv int64 // unix ms
	counts    []int
	total     int
}

// NewHisto lays out the buckets of r.
func NewHisto(r Range, interval time.Duration) (*Histo, error) {
	if r.From.IsZero() || r.To.IsZero() {
		return nil, fmt.Errorf("histogram needs a closed time range")
	}
	if interval < time.Millisecond {
		return nil, fmt.Errorf("histogram interval must be at least 1ms")
	}
	iv := interval.Milliseconds()
	from, to := r.millis()
	first := floorDiv(from, iv) * iv
	nb := int((to-first)/iv) + 1
	if nb > 100000 {
		return nil, fmt.Errorf("histogram of %d buckets is too fine: use a larger interval", nb)
	}
	return &Histo{first: first, iv: iv, counts: make([]int, nb)}, nil
}

// Add counts n events at unix ms t; a time outside the range is ignored.
func (h *Histo) Add(t int64, n int) {
	if t < h.first {
		return
	}
	if i := (t - h.first) / h.iv; i < int64(len(h.counts)) {
		h.counts[i] += n
		h.total += n
	}
}

// bar is the bucket t falls in (-1 before the first).
func (h *Histo) bar(t int64) int64 {
	if t < h.first {
		return -1
	}
	return (t - h.first) / h.iv
}

// Buckets are the bars and their total.
func (h *Histo) Buckets() ([]Bucket, int) {
	out := make([]Bucket, len(h.counts))
	for i := range out {
		out[i] = Bucket{Start: time.UnixMilli(h.first + int64(i)*h.iv).UTC(), Count: h.counts[i]}
	}
	return out, h.total
}

// Histogram counts matches per interval over the range (see Histo).
func (s *Store) Histogram(ctx context.Context, m Matcher, r Range, interval time.Duration) ([]Bucket, int, error) {
	h, err := NewHisto(r, interval)
	if err != nil {
		return nil, 0, err
	}
	from, to := r.millis()
	units, err := s.units(ctx, r)
	if err != nil {
		return nil, 0, err
	}
	workers := scanWorkers(len(units))
	hs := make([]*Histo, workers)
	for w := range hs {
		hs[w] = &Histo{first: h.first, iv: h.iv, counts: make([]int, len(h.counts))}
	}
	// A sealed block within the range and one bar adds its match count,
	// kept from an earlier query when the matcher is Keyed.
	whole := &counter{key: matchKey(m),
		whole: func(u *unit) bool {
			return u.meta.MinTS >= from && u.meta.MaxTS <= to && h.bar(u.meta.MinTS) == h.bar(u.meta.MaxTS)
		},
		add: func(w int, u *unit, n int) { hs[w].Add(u.meta.MinTS, n) }}
	err = s.scan(ctx, units, m, from, to, workers, whole, func(w int, b *Block, bits Bits) {
		hw := hs[w]
		// A block within one bar (most are: a block is 2,000 rows)
		// counts without reading its rows' times.
		if lo, hi := b.Span(); lo >= from && hi <= to && hw.bar(lo) == hw.bar(hi) {
			hw.Add(lo, bits.Count())
			return
		}
		bits.Each(func(row int) { hw.Add(b.Time(row), 1) })
	})
	if err != nil {
		return nil, 0, err
	}
	for _, hw := range hs {
		for i, n := range hw.counts {
			h.counts[i] += n
		}
		h.total += hw.total
	}
	out, total := h.Buckets()
	return out, total, nil
}

// CountMatches counts matching events in the range.
func (s *Store) CountMatches(ctx context.Context, m Matcher, r Range) (int, error) {
	from, to := r.millis()
	units, err := s.units(ctx, r)
	if err != nil {
		return 0, err
	}
	workers := scanWorkers(len(units))
	totals := make([]int, workers)
	whole := &counter{key: matchKey(m),
		whole: func(u *unit) bool { return u.meta.MinTS >= from && u.meta.MaxTS <= to },
		add:   func(w int, _ *unit, n int) { totals[w] += n }}
	err = s.scan(ctx, units, m, from, to, workers, whole, func(w int, _ *Block, bits Bits) { totals[w] += bits.Count() })
	total := 0
	for _, n := range totals {
		total += n
	}
	return total, err
}

// scanWorkers is how many goroutines evaluate a query over n blocks: a
// count or a histogram visits every block, so it uses the cores.
func scanWorkers(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n/8)) }

// counter lets scan take a sealed block's match count instead of its
// rows, for a caller that needs no more of a block than whole says (a
// count or a histogram, of a block within the range and one bar). With a
// Keyed matcher the count is kept in the block cache, a few dozen bytes
// where the block's meta is kilobytes: the Discover page asks for the
// same hour's histogram every few seconds, and kept metas made the cache
// grow with the window all through its first hour (the soak's slope).
type counter struct {
	key   string // matchKey(m); "" reads the block each time
	whole func(u *unit) bool
	add   func(w int, u *unit, n int)
}

// Keyed is a Matcher that names what it matches: two matchers with the
// same key match the same rows of any block, at any time (a query with
// relative dates such as now-15m has no key).
type Keyed interface {
	MatchKey() string
}

func matchKey(m Matcher) string {
	if k, ok := m.(Keyed); ok {
		return k.MatchKey()
	}
	return ""
}

// blockCount is how many rows of a sealed unit m matches, kept in the
// cache under the matcher's key.
func (s *Store) blockCount(u *unit, m Matcher, key string) (int, error) {
	v, err := s.cache.get(cacheKey{part: u.p.name, seq: u.meta.Seq, item: partCount, q: key}, func() (any, int64, error) {
		_, bits, err := s.rows(u, m, math.MinInt64, math.MaxInt64)
		if err != nil {
			return nil, 0, err
		}
		return bits.Count(), countItemBytes, nil
	})
	if err != nil {
		return 0, err
	}
	return v.(int), nil
}

// countItemBytes is a kept count's cost: its list element, map entry and
// item (the key's text is the query's, shared by all its counts).
const countItemBytes = 160

// scan evaluates m on every unit, calling fn(worker, block, rows) from
// one of the workers goroutines, or c.add(worker, unit, count) for a
// sealed unit c.whole takes; damaged blocks are left out.
func (s *Store) scan(ctx context.Context, units []unit, m Matcher, from, to int64, workers int, c *counter, fn func(int, *Block, Bits)) error {
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				ui := int(next.Add(1) - 1)
				if ui >= len(units) {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[w] = err
					return
				}
				if u := &units[ui]; c != nil && c.key != "" && u.head == nil && c.whole(u) {
					n, err := s.blockCount(u, m, c.key)
					if skip(err) {
						continue
					}
					if err != nil {
						errs[w] = err
						return
					}
					c.add(w, u, n)
					continue
				}
				b, bits, err := s.rows(&units[ui], m, from, to)
				if skip(err) {
					continue
				}
				if err != nil {
					errs[w] = err
					return
				}
				fn(w, b, bits)
				if err := b.Err(); err != nil {
					// fn read row times that could not be read: its
					// rows were counted at the block's first time.
					s.blockDamaged(&units[ui], err)
				}
			}
		}(w)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// FieldStat is one field with its most frequent values among sampled hits.
type FieldStat struct {
	Field  string       `json:"field"`
	Count  int          `json:"count"` // sampled events having the field
	Top    []ValueCount `json:"top"`
	Sample int          `json:"sample"`
}

// ValueCount is a value and how often it occurs.
type ValueCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Fields returns the top values of every field among the newest sample
// matching events, as Kibana's field sidebar does (it samples 500 hits).
func (s *Store) Fields(ctx context.Context, m Matcher, r Range, sample, top int) ([]FieldStat, error) {
	res, err := s.Search(ctx, SearchRequest{Match: m, Range: r, Limit: sample})
	if err != nil {
		return nil, err
	}
	return FieldStats(res.Hits, top), nil
}

// FieldStats is the field sidebar of a sample of hits: for every field,
// how many hits have it and its top most frequent values.
func FieldStats(hits []Hit, top int) []FieldStat {
	type acc struct {
		n    int
		vals map[string]int
	}
	stats := map[string]*acc{}
	for _, h := range hits {
		fields, err := Flatten(h.Raw)
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		for _, f := range fields {
			a := stats[f.Path]
			if a == nil {
				a = &acc{vals: map[string]int{}}
				stats[f.Path] = a
			}
			if !seen[f.Path] {
				a.n++
				seen[f.Path] = true
			}
			a.vals[f.Str]++
		}
	}
	var out []FieldStat
	for _, name := range sortedKeys(stats) {
		a := stats[name]
		fs := FieldStat{Field: name, Count: a.n, Sample: len(hits)}
		for v, c := range a.vals {
			fs.Top = append(fs.Top, ValueCount{v, c})
		}
		sort.Slice(fs.Top, func(i, j int) bool {
			if fs.Top[i].Count != fs.Top[j].Count {
				return fs.Top[i].Count > fs.Top[j].Count
			}
			return fs.Top[i].Value < fs.Top[j].Value
		})
		if len(fs.Top) > top {
			fs.Top = fs.Top[:top]
		}
		out = append(out, fs)
	}
	return out
}
