package graphite

import "math"

// ConsolidateForRender applies the render API's maxDataPoints as
// graphite-web's JSON renderer does: each series whose points over the
// request's span exceed it gets ceil(points / maxDataPoints) values per
// point, its start nudged so that buckets line up from one refresh to the
// next, and consolidated with its consolidation function.
func ConsolidateForRender(ss []*Series, maxDataPoints int) {
	any := false
	for _, s := range ss {
		any = any || len(s.Values) > 0
	}
	if !any || maxDataPoints <= 0 {
		return
	}
	start, end := ss[0].Start, ss[0].End
	for _, s := range ss {
		start, end = min(start, s.Start), max(end, s.End)
	}
	span := float64(end - start)
	for _, s := range ss {
		if maxDataPoints == 1 {
			s.ValuesPerPoint = max(len(s.Values), 1)
			continue
		}
		if s.Step <= 0 {
			continue
		}
		points := span / float64(s.Step)
		if float64(maxDataPoints) >= points {
			continue
		}
		vpp := int64(math.Ceil(points / float64(maxDataPoints)))
		secs := vpp * s.Step
		nudge := secs + floorMod(s.Start, s.Step) - floorMod(s.Start, secs)
		s.Start += nudge
		lose := int(nudge / s.Step)
		for r := 1; r < lose && len(s.Values) > 0; r++ {
			s.Values = s.Values[1:]
		}
		s.ValuesPerPoint = int(vpp)
	}
}
