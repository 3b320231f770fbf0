package caseflow

import (
	"strings"
	"sync"
	"time"

	"github.com/xiamen-eeb/nuisance/internal/geo"
	"github.com/xiamen-eeb/nuisance/internal/routing"
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

// StatusNames are the statuses as the console shows them (its STATUS),
// so that a refusal naming a case's status says what the reader sees.
var StatusNames = map[string]string{
	StatusOpen:     "待派单",
	StatusAssigned: "待签收",
	StatusAccepted: "处理中",
	StatusResolved: "已办结",
	StatusReturned: "已退单",
	StatusClosed:   "已销号",
}

// StatusName is the status as the console shows it (待签收), or the
// status itself when it has no name.
func StatusName(status string) string {
	if n, ok := StatusNames[status]; ok {
		return n
	}
	return status
}

// PriorityNames are the priorities (the router's levels) as the console
// shows them (its PRIORITY).
var PriorityNames = map[string]string{
	routing.PriorityUrgent: "紧急",
	routing.PriorityHigh:   "优先",
	routing.PriorityNormal: "一般",
}

// OutcomeNames are the outcomes of a resolution as the console shows
// them (its OUTCOME).
var OutcomeNames = map[string]string{
	OutcomeRectified:   "已整改",
	OutcomeNoViolation: "无违法行为",
	OutcomePenalized:   "已处罚",
	OutcomeReferred:    "已移交",
}

// OutcomeChoices lists the outcomes an officer may record, for a refusal
// of another: 已整改（rectified）、无违法行为（no_violation）、….
func OutcomeChoices() string {
	var b strings.Builder
	for i, o := range []string{OutcomeRectified, OutcomeNoViolation, OutcomePenalized, OutcomeReferred} {
		if i > 0 {
			b.WriteString("、")
		}
		b.WriteString(OutcomeNames[o] + "（" + o + "）")
	}
	return b.String()
}

// InputError is a transition's refusal of one of its arguments (Arg:
// team, resolve_due), so that an API can name the field the reader
// filled in; it is wrapped as fault.Invalid.
type InputError struct {
	Arg, Msg string
}

func (e *InputError) Error() string { return e.Msg }
