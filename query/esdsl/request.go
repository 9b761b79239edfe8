package esdsl

import (
	"fmt"
	"time"
)

// Exists is Kibana's exists function ({exists: {field}}), what Discover's
// "filter for field present" sends; KQL's field:* is the is function
// instead (a bool around the same exists).
func Exists(field string, opts Options) (Query, error) {
	for _, f := range opts.Fields {
		if f.Name == field && f.Scripted {
			return nil, fmt.Errorf("KQL to Elasticsearch: exists on %q: Exists query does not support scripted fields", field)
		}
	}
	return Query{"exists": Query{"field": field}}, nil
}

// TimeRange is the filter Discover adds for its time picker: both ends
// inclusive, in ISO 8601 with milliseconds, as moment's toISOString
// writes them.
func TimeRange(field string, from, to time.Time) Query {
	return Query{"range": Query{field: Query{
		"gte":    isoMillis(from),
		"lte":    isoMillis(to),
		"format": "strict_date_optional_time",
	}}}
}

func isoMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// SearchQuery is Kibana's buildEsQuery for one KQL query and some filters:
// {bool: {must, filter, should, must_not}}, the compiled query's own bool
// clauses spread into it (its and of one query lands in filter, or in
// must with FiltersInMustClause) and the filters appended to filter.
func SearchQuery(q string, opts Options, filters ...Query) (Query, error) {
	compiled, err := Compile(q, opts)
	if err != nil {
		return nil, err
	}
	must, filter := []any{}, []any{}
	if opts.FiltersInMustClause {
		must = append(must, compiled)
	} else {
		filter = append(filter, compiled)
	}
	for _, f := range filters {
		filter = append(filter, f)
	}
	return Query{"bool": Query{"must": must, "filter": filter, "should": []any{}, "must_not": []any{}}}, nil
}

// Body is a Discover search request: the newest size hits by timeField,
// the total counted exactly, and aggs (nil for none).
func Body(query Query, size int, timeField string, aggs Query) Query {
	b := Query{
		"query":            query,
		"size":             size,
		"sort":             []any{Query{timeField: Query{"order": "desc", "unmapped_type": "boolean"}}},
		"track_total_hits": true,
	}
	if aggs != nil {
		b["aggs"] = aggs
	}
	return b
}

// Histogram is Discover's hit histogram over a time range.
type Histogram struct {
	Field    string
	Interval time.Duration // a fixed_interval; see Calendar
	// Calendar, when set ("1M", "1y", "1w", ...), is a calendar_interval
	// used instead of Interval: months and years have no fixed length.
	Calendar string
	TimeZone string // "" for UTC
	// MinDocCount 0 returns empty buckets too, across From..To
	// (extended_bounds); Kibana's default is 1.
	MinDocCount int
	From, To    time.Time
}

// DateHistogram is the date_histogram aggregation for h.
func DateHistogram(h Histogram) (Query, error) {
	p := Query{"field": h.Field, "min_doc_count": h.MinDocCount}
	if h.Calendar != "" {
		p["calendar_interval"] = h.Calendar
	} else {
		iv, err := fixedInterval(h.Interval)
		if err != nil {
			return nil, err
		}
		p["fixed_interval"] = iv
	}
	tz := h.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	p["time_zone"] = tz
	if !h.From.IsZero() && !h.To.IsZero() {
		p["extended_bounds"] = Query{"min": h.From.UnixMilli(), "max": h.To.UnixMilli()}
	}
	return Query{"date_histogram": p}, nil
}

// fixedInterval writes d in the largest unit that divides it: Elasticsearch
// takes whole numbers of ms, s, m, h or d.
func fixedInterval(d time.Duration) (string, error) {
	if d < time.Millisecond || d%time.Millisecond != 0 {
		return "", fmt.Errorf("histogram interval %v: want a whole number of milliseconds, at least 1ms", d)
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name), nil
		}
	}
	return fmt.Sprintf("%dms", d/time.Millisecond), nil
}

// Terms is the terms aggregation for a field's top values (most frequent
// first, Elasticsearch's default order).
func Terms(field string, size int) Query {
	return Query{"terms": Query{"field": field, "size": size}}
}
