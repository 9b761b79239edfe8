package traces

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// nameIndex answers /api/v2/services, /spans, /remoteServices and the
// autocomplete routes without reading spans: the distinct service names,
// span and remote service names per service, tag keys and their values,
// each with the last hour a span carried it (retention forgets what only
// expired hours had). It lives in memory and in names.log, a log of
// records (record.go) "this name was seen in this hour", written when a
// name is new or seen in a later hour, so at most once per name per hour.
//
// Payload: kind byte | varint hour | uvarint len | s1 | uvarint len | s2.
//
// Names are capped (span names or tag values carrying ids would grow
// without end): past a cap new names are counted, not kept.
type nameIndex struct {
	mu       sync.RWMutex
	path     string
	f        *os.File
	pending  []byte
	services map[string]*owner
	tagKeys  map[string]*owner
	entries  int
	records  int
	Dropped  atomic.Int64
	dirty    atomic.Bool // records written since the last fsync
	unknown  []name      // observe's scratch (the writer's)
}

// name is a name record's fields.
type name struct {
	kind   byte
	s1, s2 string
}

// owner is a service or a tag key: when it was last seen, and the names
// under it (span names and remote services, or tag values) with theirs.
type owner struct {
	seen int64
	sub  subNames
}

// subNames are an owner's names by kind (subIndex): an array, not a map
// keyed by kind, as every span's names are looked up in it.
type subNames [len(subKinds)]map[string]int64

// subKinds are the kinds of names under an owner, in subNames' order.
var subKinds = [...]byte{recSpan, recRemote, recTagVal}

func subIndex(kind byte) int {
	switch kind {
	case recSpan:
		return 0
	case recRemote:
		return 1
	}
	return 2
}

// Record kinds: an owner (service, tag key) or a name under one.
const (
	recService = 's'
	recSpan    = 'n'
	recRemote  = 'r'
	recTagKey  = 'k'
	recTagVal  = 'v'

	maxServices        = 10_000
	maxNamesPerService = 10_000
	maxTagKeys         = 10_000
	maxValuesPerKey    = 1_000
	maxNameEntries     = 200_000
)

// parentKind is the owner kind a name kind lives under (ok false: an
// owner kind). A switch, not a map: it runs for every name of every span.
func parentKind(kind byte) (byte, bool) {
	switch kind {
	case recSpan, recRemote:
		return recService, true
	case recTagVal:
		return recTagKey, true
	}
	return 0, false
}

func openNames(path string) (*nameIndex, error) {
	ni := &nameIndex{path: path, services: map[string]*owner{}, tagKeys: map[string]*owner{}}
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("read span names: %w", err)
	}
	valid := eachRecord(b, func(p []byte) {
		if kind, hour, s1, s2, ok := parseNameRecord(p); ok {
			ni.apply(kind, hour, s1, s2)
		}
		ni.records++
	})
	if valid < len(b) {
		if err := os.Truncate(path, int64(valid)); err != nil {
			return nil, fmt.Errorf("truncate torn span names: %w", err)
		}
	}
	if ni.f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, fmt.Errorf("open span names: %w", err)
	}
	return ni, nil
}

func nameRecord(buf []byte, kind byte, hour int64, s1, s2 string) []byte {
	p := append([]byte{kind}, binary.AppendVarint(nil, hour)...)
	p = binary.AppendUvarint(p, uint64(len(s1)))
	p = append(p, s1...)
	p = binary.AppendUvarint(p, uint64(len(s2)))
	p = append(p, s2...)
	return appendRecord(buf, p)
}

func parseNameRecord(p []byte) (byte, int64, string, string, bool) {
	r := colReader{p: p}
	kind := r.byte()
	hour, n := binary.Varint(r.p)
	if r.err || n <= 0 {
		return 0, 0, "", "", false
	}
	r.p = r.p[n:]
	var ss [2]string
	for i := range ss {
		l := r.uvarint()
		if r.err || l > uint64(len(r.p)) {
			return 0, 0, "", "", false
		}
		ss[i] = string(r.p[:l])
		r.p = r.p[l:]
	}
	return kind, hour, ss[0], ss[1], true
}

func (ni *nameIndex) owners(kind byte) (map[string]*owner, int) {
	if kind == recService {
		return ni.services, maxServices
	}
	return ni.tagKeys, maxTagKeys
}

// apply records a name; false when it was known for this hour already or
// is over a cap. The caller holds mu (or owns ni).
func (ni *nameIndex) apply(kind byte, hour int64, s1, s2 string) bool {
	if pk, ok := parentKind(kind); ok {
		m, _ := ni.owners(pk)
		o := m[s1]
		if o == nil {
			return false
		}
		names := o.sub[subIndex(kind)]
		if names == nil {
			names = map[string]int64{}
			o.sub[subIndex(kind)] = names
		}
		limit := maxNamesPerService
		if kind == recTagVal {
			limit = maxValuesPerKey
		}
		return ni.seen(names, s2, hour, limit)
	}
	if kind != recService && kind != recTagKey {
		return false
	}
	m, limit := ni.owners(kind)
	o := m[s1]
	if o == nil {
		if len(m) >= limit || ni.entries >= maxNameEntries {
			ni.Dropped.Add(1)
			return false
		}
		m[s1] = &owner{seen: hour}
		ni.entries++
		return true
	}
	if o.seen >= hour {
		return false
	}
	o.seen = hour
	return true
}

// seen moves a name's last hour forward; true when it changed.
func (ni *nameIndex) seen(m map[string]int64, k string, hour int64, limit int) bool {
	h, ok := m[k]
	switch {
	case !ok && (len(m) >= limit || ni.entries >= maxNameEntries):
		ni.Dropped.Add(1)
		return false
	case !ok:
		ni.entries++
	case h >= hour:
		return false
	}
	m[k] = hour
	return true
}

// observe records the names of rows of one hour and writes the new
// records to names.log (not fsynced: sync does that with the WAL). Once a
// system is warm nearly every name is known: one pass under the read lock
// finds the few that are not (a tag with more values than its cap never
// stops being one), and only those are applied under the write lock.
func (ni *nameIndex) observe(rows []row, hour int64) error {
	unknown := ni.unknown[:0]
	defer func() {
		clear(unknown) // no references to the batch's strings
		if cap(unknown) <= 1<<16 {
			ni.unknown = unknown[:0]
		}
	}()
	note := func(kind byte, s1, s2 string) { unknown = append(unknown, name{kind, s1, s2}) }
	// A row names its service; under it its span name and remote
	// service; its tag keys; under each its value. Each owner is looked
	// up once per row (or per tag), not once per name.
	subKnown := func(o *owner, kind byte, s string) bool {
		if o == nil {
			return false
		}
		h, ok := o.sub[subIndex(kind)][s]
		return ok && h >= hour
	}
	ni.mu.RLock()
	for i := range rows {
		r := &rows[i]
		if r.Local.Service == "" && r.Name == "" && r.Remote == "" && len(r.TagK) == 0 {
			continue
		}
		o := ni.services[r.Local.Service]
		if o == nil || o.seen < hour {
			note(recService, r.Local.Service, "")
		}
		if r.Name != "" && !subKnown(o, recSpan, r.Name) {
			note(recSpan, r.Local.Service, r.Name)
		}
		if r.Remote != "" && !subKnown(o, recRemote, r.Remote) {
			note(recRemote, r.Local.Service, r.Remote)
		}
		for j, k := range r.TagK {
			o := ni.tagKeys[k]
			if o == nil || o.seen < hour {
				note(recTagKey, k, "")
			}
			if !subKnown(o, recTagVal, r.TagV[j]) {
				note(recTagVal, k, r.TagV[j])
			}
		}
	}
	ni.mu.RUnlock()
	if len(unknown) == 0 {
		return nil
	}
	ni.mu.Lock()
	for _, n := range unknown {
		if ni.apply(n.kind, hour, n.s1, n.s2) {
			ni.pending = nameRecord(ni.pending, n.kind, hour, n.s1, n.s2)
			ni.records++
		}
	}
	pending := ni.pending
	ni.pending = nil
	ni.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if _, err := ni.f.Write(pending); err != nil {
		return fmt.Errorf("write span names: %w", err)
	}
	ni.dirty.Store(true)
	return nil
}

// sync makes the records written so far durable (the syncer calls it with
// the WALs' fsync, so a stored span's names are durable with it).
func (ni *nameIndex) sync() error {
	if !ni.dirty.Swap(false) {
		return nil
	}
	if err := datasync(ni.f); err != nil {
		ni.dirty.Store(true)
		return fmt.Errorf("sync span names: %w", err)
	}
	return nil
}

func liveKeys(m map[string]int64, from int64) []string {
	out := []string{}
	for k, h := range m {
		if h >= from && k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// list returns the owners of a kind, or the names of one kind under owner.
func (ni *nameIndex) list(kind byte, of string, from int64) []string {
	ni.mu.RLock()
	defer ni.mu.RUnlock()
	if pk, ok := parentKind(kind); ok {
		m, _ := ni.owners(pk)
		if o := m[of]; o != nil {
			return liveKeys(o.sub[subIndex(kind)], from)
		}
		return []string{}
	}
	m, _ := ni.owners(kind)
	seen := make(map[string]int64, len(m))
	for k, o := range m {
		seen[k] = o.seen
	}
	return liveKeys(seen, from)
}

// expire forgets names last seen before hour from and, when the log holds
// mostly dead records, rewrites it with the live ones.
func (ni *nameIndex) expire(from int64) error {
	ni.mu.Lock()
	defer ni.mu.Unlock()
	var live []byte
	n := 0
	for _, kind := range []byte{recService, recTagKey} {
		m, _ := ni.owners(kind)
		for k, o := range m {
			if o.seen < from {
				ni.entries--
				for _, names := range o.sub {
					ni.entries -= len(names)
				}
				delete(m, k)
				continue
			}
			live = nameRecord(live, kind, o.seen, k, "")
			n++
			for i, names := range o.sub {
				sk := subKinds[i]
				for name, h := range names {
					if h < from {
						delete(names, name)
						ni.entries--
						continue
					}
					live = nameRecord(live, sk, h, k, name)
					n++
				}
			}
		}
	}
	if ni.records <= 2*n+10_000 {
		return nil
	}
	if err := writeFileAtomic(ni.path, live); err != nil {
		return fmt.Errorf("rewrite span names: %w", err)
	}
	f, err := os.OpenFile(ni.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("reopen span names: %w", err)
	}
	ni.f.Close()
	ni.f = f
	ni.records = n
	return nil
}

func (ni *nameIndex) close() error { return ni.f.Close() }
