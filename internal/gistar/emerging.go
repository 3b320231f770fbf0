package gistar

// Class is a cell's emerging-hotspot pattern over the analysed weeks, a
// simplification of ESRI's emerging hot spot analysis that tells the
// bureau which repeat-complaint places are new, growing, lasting or fading.
type Class string

// The patterns, decided in the order listed for a cell that is a
// significant hot spot in the target week (K weeks analysed, 9 by default).
const (
	// ClassNew is hot in the target week and in no earlier week: a place
	// that has just started drawing complaints.
	ClassNew Class = "new"
	// ClassIntensifying is hot in the target week and in most of the recent
	// half of the weeks (at least ⌊R/2⌋+1 of the last R = ⌈K/2⌉, 3 of 5),
	// with a significantly rising Mann–Kendall trend of its weekly z-scores:
	// a problem getting worse.
	ClassIntensifying Class = "intensifying"
	// ClassDiminishing is hot in more than half of the weeks with a
	// significantly falling trend: remediation may be working.
	ClassDiminishing Class = "diminishing"
	// ClassPersistent is hot in at least 90 % of the weeks (9 of 9) with no
	// significant trend: a chronic source that needs a lasting fix.
	ClassPersistent Class = "persistent"
	// ClassSporadic is any other cell hot in the target week: on and off.
	ClassSporadic Class = "sporadic"
	// ClassCooled is not hot in the target week but was in more than half
	// of the trailing weeks: a hotspot that has calmed down, which the
	// weekly report lists as resolved. Cold spots are never classified.
	ClassCooled Class = "cooled"
)

// classify names the pattern of a cell from its weekly hot flags (oldest
// first, the target week last) and the trend of its weekly z-scores. It
// returns "" for a cell that is neither hot now nor cooled.
func classify(hot []bool, trend Trend, trendAlpha float64) Class {
	k := len(hot)
	if k == 0 {
		return ""
	}
	total := 0
	for _, h := range hot {
		if h {
			total++
		}
	}
	rising := trend.P <= trendAlpha && trend.S > 0
	falling := trend.P <= trendAlpha && trend.S < 0
	if !hot[k-1] {
		if 2*total > k-1 && k > 1 {
			return ClassCooled
		}
		return ""
	}
	recent := (k + 1) / 2
	recentHot := 0
	for _, h := range hot[k-recent:] {
		if h {
			recentHot++
		}
	}
	switch {
	case total == 1:
		return ClassNew
	case rising && recentHot >= recent/2+1:
		return ClassIntensifying
	case falling && 2*total > k:
		return ClassDiminishing
	case 10*total >= 9*k:
		return ClassPersistent
	}
	return ClassSporadic
}
