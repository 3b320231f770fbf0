package officers

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/auth"
	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/pii"
)

// AuditEntry is one entry of a case's record (处置记录) as officers read
// it: the entry as caseflow keeps it, with who acted by name, the teams
// an assignment moved the case between by name, and its reason in
// Chinese.
type AuditEntry struct {
	caseflow.AuditEntry
	// ActorName is who acted, as a reader knows them: an officer by its
	// team and name (思明区生态环境执法大队 · 陈一), a supervisor by its
	// district (思明区主管 · 黄四), an admin as 管理员 · 吴五, the
	// pipeline (router, timers, the sweep) as 系统.
	ActorName string `json:"actor_name"`
	// FromTeamName and ToTeamName name FromTeam and ToTeam.
	FromTeamName string `json:"from_team_name,omitempty"`
	ToTeamName   string `json:"to_team_name,omitempty"`
	// ReasonText is Reason in the console's words: the pipeline's reasons
	// (a routing rule, a repeat complaint, a deadline passed) said in
	// Chinese, an outcome by its name, a person's reason as typed. Empty
	// when the action says it all (立案, 并案, 查看来电号码).
	ReasonText string `json:"reason_text"`
	// Rule is the routing rule that decided an assignment, machine
	// readable (noise.social_life).
	Rule string `json:"rule,omitempty"`
}

// Resolution is a resolution a reopening (重新交办) set aside: what the
// team recorded before the nuisance came back.
type Resolution struct {
	Outcome     string    `json:"outcome"`
	OutcomeName string    `json:"outcome_name,omitempty"`
	Note        string    `json:"note,omitempty"`
	At          time.Time `json:"at"`
}

// reopening is what a case's record says of its last reopening: when, and
// the resolution it set aside while the case has not been resolved again.
type reopening struct {
	at       *time.Time
	previous *Resolution
}

// reopenedFrom reads, from a case's record in order, its last reopening
// and, when no resolution came after it, the resolution it set aside.
func reopenedFrom(audit []caseflow.AuditEntry) reopening {
	var r reopening
	var last *caseflow.AuditEntry
	for i := range audit {
		e := &audit[i]
		switch e.Action {
		case "resolve":
			last = e
			r.previous = nil
		case "reopen":
			at := e.At
			r.at = &at
			if last != nil {
				outcome, note, _ := strings.Cut(last.Reason, ": ")
				r.previous = &Resolution{Outcome: outcome, OutcomeName: caseflow.OutcomeNames[outcome], Note: pii.MaskText(note), At: last.At}
			}
		}
	}
	return r
}

// actorNames names the officers, supervisors and admins of actors
// ("officer:<id>") as ActorName says them.
func (s *Service) actorNames(ctx context.Context, q caseflow.Querier, actors []string) (map[string]string, error) {
	var ids []string
	for _, a := range actors {
		if id, ok := strings.CutPrefix(a, "officer:"); ok {
			ids = append(ids, id)
		}
	}
	names := map[string]string{}
	if len(ids) == 0 {
		return names, nil
	}
	rows, err := q.Query(ctx, `SELECT id, name, role, COALESCE(team, ''), COALESCE(district, '') FROM officers WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("names of actors: %w", err)
	}
	type officer struct{ id, name, role, team, district string }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (officer, error) {
		var o officer
		err := r.Scan(&o.id, &o.name, &o.role, &o.team, &o.district)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("names of actors: %w", err)
	}
	for _, o := range list {
		var who string
		switch o.role {
		case auth.RoleSupervisor:
			who = caseflow.DistrictName(o.district) + "主管"
		case auth.RoleAdmin:
			who = "管理员"
		default:
			who = s.teamName(o.team)
		}
		if who == "" {
			names["officer:"+o.id] = o.name
			continue
		}
		names["officer:"+o.id] = who + " · " + o.name
	}
	return names, nil
}

// auditView is a case's record as officers read it (AuditEntry), with its
// last reopening.
func (s *Service) auditView(ctx context.Context, q caseflow.Querier, caseID string) ([]AuditEntry, reopening, error) {
	entries, err := caseflow.Audit(ctx, q, caseID)
	if err != nil {
		return nil, reopening{}, err
	}
	actors := make([]string, len(entries))
	for i, e := range entries {
		actors[i] = e.Actor
	}
	names, err := s.actorNames(ctx, q, actors)
	if err != nil {
		return nil, reopening{}, err
	}
	out := make([]AuditEntry, len(entries))
	for i, e := range entries {
		// A note taken before notes were masked as they are accepted
		// (see maskNote) is still stored whole.
		e.Reason = pii.MaskText(e.Reason)
		// A reopening whose new deadline is the one it replaced moved
		// nothing: the record says the deadline once.
		if e.DueBefore != nil && e.DueAfter != nil && e.DueBefore.Equal(*e.DueAfter) {
			e.DueBefore = nil
		}
		v := AuditEntry{AuditEntry: e, FromTeamName: s.teamName(e.FromTeam), ToTeamName: s.teamName(e.ToTeam)}
		switch {
		case strings.HasPrefix(e.Actor, "service:"):
			v.ActorName = "系统"
		case names[e.Actor] != "":
			v.ActorName = names[e.Actor]
		default:
			v.ActorName = e.Actor
		}
		v.ReasonText, v.Rule = s.reasonText(e)
		out[i] = v
	}
	return out, reopenedFrom(entries), nil
}

var (
	ruleAfterReturn = regexp.MustCompile(`^rule (\S+) after return by (.+)$`)
	ruleOnly        = regexp.MustCompile(`^rule (\S+)$`)
	samePlace       = regexp.MustCompile(`^complaint \S+ at the same place$`)
	complaintOnly   = regexp.MustCompile(`^complaint \S+$`)
	quietDays       = regexp.MustCompile(`^no complaint within (\d+) days of the resolution$`)
	correctedOut    = regexp.MustCompile(`^complaint \S+ corrected to (\w+), (\w+)(?:/(\w+))? \([^)]*\): it leaves the case`)
	allMovedOut     = regexp.MustCompile(`^no complaint left: .* moved out by a supervisor's correction`)
	deadlinePassed  = regexp.MustCompile(`^(sign-for|resolve) deadline (\S+) passed$`)
	revealed        = regexp.MustCompile(`^complaints \S+(, \S+)*$`)
)

// reasonText is the reason of the audit entry e in the console's words,
// and the routing rule it names, if any. The pipeline records its reasons
// for the log, in English with ids ("rule noise.social_life"); an
// officer's or a supervisor's reason is shown as typed.
func (s *Service) reasonText(e caseflow.AuditEntry) (string, string) {
	r := e.Reason
	if r == "" {
		return "", ""
	}
	if e.Action == "resolve" {
		return caseflow.ResolutionText(r), ""
	}
	if m := ruleAfterReturn.FindStringSubmatch(r); m != nil {
		teams := strings.Split(m[2], ", ")
		for i, t := range teams {
			teams[i] = s.teamLabel(t)
		}
		return s.ruleText(m[1]) + "，重新派单（" + strings.Join(teams, "、") + "已退单）", m[1]
	}
	if m := ruleOnly.FindStringSubmatch(r); m != nil {
		return s.ruleText(m[1]), m[1]
	}
	if samePlace.MatchString(r) {
		return "同一地点又有投诉", ""
	}
	// 立案 and 并案 say it already: the complaint's id is for the log.
	if complaintOnly.MatchString(r) {
		return "", ""
	}
	if e.Action == "merge" {
		if m, ok := caseflow.ParseMergeReason(r); ok {
			return s.mergeText(m), ""
		}
	}
	if m := quietDays.FindStringSubmatch(r); m != nil {
		return "办结后" + m[1] + "日内该地点无新投诉，办结销号", ""
	}
	if m := correctedOut.FindStringSubmatch(r); m != nil {
		what := s.cls.Name(m[2], m[3])
		if what == "" {
			what = m[2]
		}
		return "分拣更正为" + caseflow.DistrictName(m[1]) + " " + what + "，移出本案，重新派单", ""
	}
	if allMovedOut.MatchString(r) {
		return "本案投诉均经分拣更正移出，更正后关闭，未经办理", ""
	}
	if m := deadlinePassed.FindStringSubmatch(r); m != nil {
		what := "签收时限"
		if m[1] == "resolve" {
			what = "办结时限"
		}
		if t, err := time.Parse(time.RFC3339, m[2]); err == nil {
			return what + " " + caseflow.When(t) + " 已过，予以督办", ""
		}
		return what + "已过，予以督办", ""
	}
	// Whose number was looked at is for the log too.
	if e.Action == "reveal_caller" && revealed.MatchString(r) {
		return "", ""
	}
	return r, ""
}

// mergeText says what a merge (并案) changed of its case: the priority it
// raised (提升为紧急), the deadlines it brought forward, in Xiamen time
// (办结时限提前至 12月4日 23:31); "" when it changed neither. The
// complaint's id is for the log.
func (s *Service) mergeText(m caseflow.Merged) string {
	var parts []string
	if m.RaisedTo != "" {
		name := caseflow.PriorityNames[m.RaisedTo]
		if name == "" {
			name = m.RaisedTo
		}
		parts = append(parts, "提升为"+name)
	}
	loc := s.cal.Location()
	var dues []string
	if !m.SignBy.IsZero() {
		dues = append(dues, "签收时限提前至 "+m.SignBy.In(loc).Format("1月2日 15:04"))
	}
	if !m.ResolveBy.IsZero() {
		dues = append(dues, "办结时限提前至 "+m.ResolveBy.In(loc).Format("1月2日 15:04"))
	}
	if len(dues) > 0 {
		parts = append(parts, strings.Join(dues, "，"))
	}
	if len(parts) == 0 {
		return ""
	}
	return "并案：" + strings.Join(parts, "；")
}

// ruleText says that routing rule id decided an assignment, in the words
// of the rule: the kind of nuisance and the department that handles it.
func (s *Service) ruleText(id string) string {
	ru, ok := s.rules.Rule(id)
	if !ok {
		return "按派单规则派单"
	}
	what := s.cls.Name(ru.Category, ru.Subcategory)
	if what == "" {
		what = ru.Category
	}
	text := "按派单规则：" + what + "由" + ru.Department + "部门承办"
	switch {
	case ru.PlaceKind == "positive_list":
		text += "（正面清单企业，先行非现场检查）"
	case strings.HasSuffix(ru.ID, ".returned"):
		text += "（原承办部门退单后）"
	}
	return text
}

// teamLabel is a team by its name, or its id when the seeds do not know
// it.
func (s *Service) teamLabel(id string) string {
	if n := s.teamName(id); n != "" {
		return n
	}
	return id
}
