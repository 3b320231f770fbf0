package caseflow

import (
	"sync"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/workday"
)

// The words of the errors a supervisor or an officer reads: the console
// shows them as they are, so a time is the city's (Asia/Shanghai, the day
// the reader counts in), and a team and a district are named as the
// people know them, the team's id beside its name where the API asks for
// it.

var xiamen = func() *time.Location {
	if loc, err := time.LoadLocation(workday.Zone); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}()

// When formats t in Xiamen time for a reader: "2026-12-01 00:24 +08:00",
// with the seconds when there are any ("2026-12-19 23:59:59 +08:00").
func When(t time.Time) string {
	t = t.In(xiamen)
	if t.Second() != 0 {
		return t.Format("2006-01-02 15:04:05 -07:00")
	}
	return t.Format("2006-01-02 15:04 -07:00")
}

var (
	districtsOnce sync.Once
	districts     *geo.Districts
)

// DistrictName is the Chinese name of a district (思明区), or its slug
// when the seeds do not know it.
func DistrictName(slug string) string {
	districtsOnce.Do(func() { districts, _ = geo.LoadDistricts() })
	if districts != nil {
		if d, ok := districts.BySlug(slug); ok && d.Name != "" {
			return d.Name
		}
	}
	return slug
}

// TeamName is a team as a reader knows it and the API names it:
// "湖里区生态环境执法大队 (huli-eco)", or the id alone for a team the seeds
// do not know.
func TeamName(id string) string {
	t, ok, err := teamByID(id)
	if err != nil || !ok || t.Name == "" {
		return id
	}
	return t.Name + " (" + id + ")"
}
