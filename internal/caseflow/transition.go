package caseflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

type clockKey struct{}

// WithClock makes the transitions run under ctx read the time from now
// instead of the wall clock, so that tests and replays of old complaints
// stamp cases with the time they describe.
func WithClock(ctx context.Context, now func() time.Time) context.Context {
	return context.WithValue(ctx, clockKey{}, now)
}

func nowFrom(ctx context.Context) time.Time {
	if f, ok := ctx.Value(clockKey{}).(func() time.Time); ok && f != nil {
		return f().UTC()
	}
	return time.Now().UTC()
}

// lockFor reads and locks the case the actor may act on; another team's
// case is NotFound exactly like a missing one.
//
// The actor's right is judged by a statement of its own once the lock is
// held. Judged in the statement that locks, a right that waited for the
// lock would be read from the assignments as they were before the
// transaction it waited for committed: an officer whose case a supervisor
// had just reassigned would accept, or return, the new team's assignment.
func lockFor(ctx context.Context, tx pgx.Tx, id string, by Actor) (Case, error) {
	if err := by.check(); err != nil {
		return Case{}, err
	}
	c, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM cases c WHERE c.id = $1 FOR UPDATE OF c`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Case{}, fault.Errorf(fault.NotFound, "未找到案件 %s", id)
	}
	if err != nil {
		return Case{}, fmt.Errorf("lock case %s: %w", id, err)
	}
	var may bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cases c WHERE c.id = $1 AND `+visible+`)`,
		id, by.role(), by.Team, by.District).Scan(&may); err != nil {
		return Case{}, fmt.Errorf("check the right to case %s: %w", id, err)
	}
	if !may {
		return Case{}, fault.Errorf(fault.NotFound, "未找到案件 %s", id)
	}
	return c, nil
}

// update applies set (a list of "col = $n" with $1 the case id and $2 the
// time) to a case, bumps its version and returns it.
func update(ctx context.Context, tx pgx.Tx, id string, at time.Time, set string, args ...any) (Case, error) {
	all := append([]any{id, at}, args...)
	c, err := scanCase(tx.QueryRow(ctx, `UPDATE cases AS c SET `+set+`, updated_at = $2, version = c.version + 1
		WHERE c.id = $1 RETURNING `+caseColumns, all...))
	if err != nil {
		return Case{}, fmt.Errorf("update case %s: %w", id, err)
	}
	return c, nil
}

// conflict refuses the action (签收, in the reader's words) on case c in
// a status other than want, naming the statuses as the console does.
func conflict(c Case, action string, want ...string) error {
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = StatusName(w)
	}
	return fault.Errorf(fault.Conflict, "案件 %s 当前为%s，不能%s（须为%s）", c.ID, StatusName(c.Status), action, strings.Join(names, "或"))
}

func dropTimers(ctx context.Context, tx pgx.Tx, caseID string, kinds ...string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM case_timers WHERE case_id = $1 AND kind = ANY($2) AND fired_at IS NULL`, caseID, kinds); err != nil {
		return fmt.Errorf("drop timers of case %s: %w", caseID, err)
	}
	return nil
}

func setTimers(ctx context.Context, tx pgx.Tx, c Case) error {
	for _, t := range []struct {
		kind string
		due  *time.Time
	}{{TimerSign, c.SignDue}, {TimerResolve, c.ResolveDue}} {
		if t.due == nil {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO case_timers (case_id, kind, due_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, c.ID, t.kind, *t.due); err != nil {
			return fmt.Errorf("set %s timer of case %s: %w", t.kind, c.ID, err)
		}
	}
	return nil
}

// teamOnly refuses a transition that is the assigned team's own (签收,
// 办结, 退单: action, as the refusal says it) to anyone but a member of
// that team: an officer of it, or a supervisor or an admin whose own team
// it is. A supervisor sees the district's cases, but does not sign for,
// resolve or return them in a team's name: that would count toward the
// team's record (签收及时率) and tell the hotline the team did it. The
// supervisor's tools are 改派 (Reassign) and 延期 (Extend). Services (the
// pipeline, tests, replays) act as the team they are told.
//
// The team is read from the active assignment under the case's lock, like
// the right of lockFor.
func teamOnly(ctx context.Context, tx pgx.Tx, c Case, by Actor, action string) error {
	if by.role() == RoleService {
		return nil
	}
	var team string
	err := tx.QueryRow(ctx, `SELECT team FROM assignments WHERE case_id = $1 AND status = 'active'`, c.ID).Scan(&team)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("team of case %s: %w", c.ID, err)
	}
	if team != "" && by.Team == team {
		return nil
	}
	instead := "区级主管可将案件改派其他单位（改派）或延长办结时限（延期）"
	if team == "" {
		return fault.Errorf(fault.Forbidden, "%s须由承办单位进行：案件 %s 目前无单位承办，由派往的单位%s；%s",
			action, c.ID, action, instead)
	}
	return fault.Errorf(fault.Forbidden, "%s须由承办单位进行：案件 %s 由%s承办，由其%s；%s",
		action, c.ID, TeamName(team), action, instead)
}

// Accept records that the assigned team signed for the case (签收).
func Accept(ctx context.Context, tx pgx.Tx, caseID string, by Actor) (Case, error) {
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if err := teamOnly(ctx, tx, c, by, "签收"); err != nil {
		return Case{}, err
	}
	if c.Status != StatusAssigned {
		return Case{}, conflict(c, "签收", StatusAssigned)
	}
	at := nowFrom(ctx)
	n, err := update(ctx, tx, caseID, at, `status = 'accepted', accepted_at = $2`)
	if err != nil {
		return Case{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE assignments SET accepted_at = $2 WHERE case_id = $1 AND status = 'active'`, caseID, at); err != nil {
		return Case{}, fmt.Errorf("accept case %s: %w", caseID, err)
	}
	if err := dropTimers(ctx, tx, caseID, TimerSign); err != nil {
		return Case{}, err
	}
	return n, record(ctx, tx, n, by, c.Status, "accept", KindAccepted, "", at)
}

// ValidOutcome reports whether s is an outcome Resolve accepts.
func ValidOutcome(s string) bool {
	_, ok := outcomeLabels[s]
	return ok
}

// outcomeLabels are the outcomes in the words the officers' console shows
// and the hotline's staff read to the citizen.
var outcomeLabels = map[string]string{
	OutcomeRectified:   "已整改",
	OutcomeNoViolation: "无违法行为",
	OutcomePenalized:   "已处罚",
	OutcomeReferred:    "已移交",
}

// resolutionReason is the audit's reason of a resolution (and its
// event's note): the outcome's code, then the team's note if any.
func resolutionReason(outcome, note string) string {
	if note == "" {
		return outcome
	}
	return outcome + ": " + note
}

// ResolutionText is a resolution's reason as resolutionReason writes it,
// with the outcome in Chinese ("已整改：…"), the words the officers'
// console shows and the hotline's staff read to the citizen; a reason of
// another form is returned as it is.
func ResolutionText(reason string) string {
	code, note, _ := strings.Cut(reason, ": ")
	label, ok := outcomeLabels[code]
	switch {
	case !ok:
		return reason
	case note == "":
		return label
	}
	return label + "：" + note
}

// Resolve records the team's handling of an accepted case (办理) with its
// outcome; the hotline is told of it through the case.resolved event.
func Resolve(ctx context.Context, tx pgx.Tx, caseID string, by Actor, outcome, note string) (Case, error) {
	if !ValidOutcome(outcome) {
		return Case{}, fault.Errorf(fault.Invalid, "处置结果 %q 无效：应为%s", outcome, OutcomeChoices())
	}
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if err := teamOnly(ctx, tx, c, by, "办结"); err != nil {
		return Case{}, err
	}
	if c.Status != StatusAccepted {
		return Case{}, conflict(c, "办结", StatusAccepted)
	}
	at := nowFrom(ctx)
	n, err := update(ctx, tx, caseID, at, `status = 'resolved', resolved_at = $2, outcome = $3, note = NULLIF($4, '')`, outcome, note)
	if err != nil {
		return Case{}, err
	}
	if err := dropTimers(ctx, tx, caseID, TimerSign, TimerResolve); err != nil {
		return Case{}, err
	}
	return n, record(ctx, tx, n, by, c.Status, "resolve", KindResolved, resolutionReason(outcome, note), at)
}

// Return sends a case back as wrongly dispatched (退单) with the reason; the
// router routes it again, never to a team that returned it.
func Return(ctx context.Context, tx pgx.Tx, caseID string, by Actor, reason string) (Case, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Case{}, fault.Errorf(fault.Invalid, "退单须说明理由")
	}
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if err := teamOnly(ctx, tx, c, by, "退单"); err != nil {
		return Case{}, err
	}
	if c.Status != StatusAssigned && c.Status != StatusAccepted {
		return Case{}, conflict(c, "退单", StatusAssigned, StatusAccepted)
	}
	at := nowFrom(ctx)
	if _, err := tx.Exec(ctx, `UPDATE assignments SET status = 'returned', ended_at = $2, reason = $3 WHERE case_id = $1 AND status = 'active'`, caseID, at, reason); err != nil {
		return Case{}, fmt.Errorf("return case %s: %w", caseID, err)
	}
	n, err := update(ctx, tx, caseID, at, `status = 'returned', accepted_at = NULL`)
	if err != nil {
		return Case{}, err
	}
	if err := dropTimers(ctx, tx, caseID, TimerSign, TimerResolve); err != nil {
		return Case{}, err
	}
	return n, record(ctx, tx, n, by, c.Status, "return", KindReturned, reason, at)
}

var (
	teamsOnce sync.Once
	teams     map[string]routing.Team
	teamsErr  error
)

// Deadliner counts the deadlines of a case of priority given to a team
// at at (routing.Router.Deadlines): a reassignment (改派) gives the new
// team fresh ones.
type Deadliner interface {
	Deadlines(priority string, at time.Time) (sign, resolve time.Time, err error)
}

type deadlinerKey struct{}

// WithDeadlines makes transitions under ctx count deadlines with d: a
// service's router on the calendar it was given (NUISANCE_CALENDAR).
// Without it they are counted on the embedded seeds' calendar.
func WithDeadlines(ctx context.Context, d Deadliner) context.Context {
	return context.WithValue(ctx, deadlinerKey{}, d)
}

func deadlinerFrom(ctx context.Context) (Deadliner, error) {
	if d, ok := ctx.Value(deadlinerKey{}).(Deadliner); ok && d != nil {
		return d, nil
	}
	if _, _, err := teamByID(""); err != nil {
		return nil, err
	}
	return seedRouter, nil
}

// seedRouter is the router of the embedded seeds, loaded with teams.
var seedRouter *routing.Router

// teamByID finds a team of the seeds, for reassignments.
func teamByID(id string) (routing.Team, bool, error) {
	teamsOnce.Do(func() {
		r, err := routing.Load()
		if err != nil {
			teamsErr = fmt.Errorf("load teams: %w", err)
			return
		}
		seedRouter = r
		teams = make(map[string]routing.Team)
		for _, t := range r.Teams() {
			teams[t.ID] = t
		}
	})
	t, ok := teams[id]
	return t, ok, teamsErr
}

// supervisorOnly refuses what only a supervisor or an admin (or a
// service) may do.
func supervisorOnly(by Actor, what string) error {
	switch by.role() {
	case RoleSupervisor, RoleAdmin, RoleService:
		return nil
	}
	if err := by.check(); err != nil {
		return err
	}
	return fault.Errorf(fault.Forbidden, "只有区级主管或管理员可以%s", what)
}

// Reassign moves a case to another team of its district (改派), by a
// supervisor of that district or an admin. The new team gets the
// deadlines of the case's priority counted from the move, as a team the
// router sends a returned case on to does; the move of the resolve
// deadline is in the case's record, and the hotline's look-up gives the new one.
func Reassign(ctx context.Context, tx pgx.Tx, caseID string, by Actor, team, reason string) (Case, error) {
	if err := supervisorOnly(by, "改派案件"); err != nil {
		return Case{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Case{}, fault.Errorf(fault.Invalid, "改派须说明理由")
	}
	t, ok, err := teamByID(team)
	if err != nil {
		return Case{}, err
	}
	if !ok {
		return Case{}, fault.Wrap(fault.Invalid, &InputError{Arg: "team", Msg: fmt.Sprintf("未知单位 %q", team)})
	}
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if t.District != c.District {
		return Case{}, fault.Wrap(fault.Invalid, &InputError{Arg: "team", Msg: fmt.Sprintf("%s属%s，案件 %s 在%s：案件只在本区内改派",
			TeamName(team), DistrictName(t.District), caseID, DistrictName(c.District))})
	}
	switch c.Status {
	case StatusOpen, StatusAssigned, StatusAccepted, StatusReturned:
	default:
		return Case{}, conflict(c, "改派", StatusOpen, StatusAssigned, StatusAccepted, StatusReturned)
	}
	if c.Team == team && (c.Status == StatusAssigned || c.Status == StatusAccepted) {
		return Case{}, fault.Errorf(fault.Conflict, "案件 %s 已由%s承办", caseID, TeamName(team))
	}
	at := nowFrom(ctx)
	if _, err = tx.Exec(ctx, `UPDATE assignments SET status = 'reassigned', ended_at = $2, reason = $3 WHERE case_id = $1 AND status = 'active'`,
		caseID, at, reason); err != nil {
		return Case{}, fmt.Errorf("reassign case %s: %w", caseID, err)
	}
	a := Assignment{Team: team, Mode: c.Mode, Priority: c.Priority, QuietCommunity: c.QuietCommunity, PositiveList: c.PositiveList, Reason: reason}
	// The new team gets the time any team is given for a case of its
	// priority, counted from now on the working-day calendar, as the
	// router gives the team it sends a returned case on to: deadlines
	// the team before ran out of (a sign-for deadline met, or either
	// missed and escalated already) would leave the new team overdue at
	// once, escalated for what it never held, and refused an extension.
	d, err := deadlinerFrom(ctx)
	if err != nil {
		return Case{}, err
	}
	if a.SignDue, a.ResolveDue, err = d.Deadlines(c.Priority, at); err != nil {
		return Case{}, fmt.Errorf("reassign case %s: %w", caseID, err)
	}
	// A returned case no team was left for put its complaints on the
	// triage list as unrouted, waiting for this: they are routed now.
	if _, err := tx.Exec(ctx, `UPDATE triage SET resolved_at = $2, resolved_by = $3
		WHERE kind = 'unrouted' AND resolved_at IS NULL
		  AND complaint_id IN (SELECT complaint_id FROM case_complaints WHERE case_id = $1)`, caseID, at, by.ID); err != nil {
		return Case{}, fmt.Errorf("reassign case %s: clear its triage entries: %w", caseID, err)
	}
	resolve := a.ResolveDue
	return assign(ctx, tx, c, by, a, "reassign", at, deadlineMove{kind: TimerResolve, before: c.ResolveDue, after: &resolve})
}

// MaxExtension is the most one extension (延期) may move a case's resolve
// deadline past its current one.
const MaxExtension = 30 * 24 * time.Hour

// Extend moves the resolve deadline of a case its team is working on
// (assigned or accepted) later (延期): a nuisance that cannot be ended in
// time, a site that must stop work in stages. By a supervisor of its
// district or an admin, with the reason, before the deadline passes (an
// overdue case is escalated, 督办, not extended: so no week's report
// changes after the week); the new deadline is later than the current
// one (or now, for a case without one) and at most MaxExtension past it.
// The deadline's escalation moves with it. Officers, the supervisors and
// the hotline's status lookup see the new deadline; the case.extended
// event carries it.
func Extend(ctx context.Context, tx pgx.Tx, caseID string, by Actor, resolveDue time.Time, reason string) (Case, error) {
	if err := supervisorOnly(by, "延长案件的办结时限（延期）"); err != nil {
		return Case{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Case{}, fault.Errorf(fault.Invalid, "延期须说明理由")
	}
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusAssigned && c.Status != StatusAccepted {
		return Case{}, conflict(c, "延期", StatusAssigned, StatusAccepted)
	}
	at := nowFrom(ctx)
	if c.ResolveDue != nil && !at.Before(*c.ResolveDue) {
		return Case{}, fault.Errorf(fault.Conflict, "案件 %s 的办结时限 %s 已过：延期须在时限之前办理，逾期的案件予以督办",
			caseID, When(*c.ResolveDue))
	}
	from, fromWhat := at, "现在"
	if c.ResolveDue != nil {
		from, fromWhat = *c.ResolveDue, "当前的办结时限"
	}
	resolveDue = resolveDue.UTC()
	switch {
	case !resolveDue.After(from):
		return Case{}, fault.Wrap(fault.Invalid, &InputError{Arg: "resolve_due", Msg: fmt.Sprintf("新的办结时限 %s 不晚于%s %s",
			When(resolveDue), fromWhat, When(from))})
	case resolveDue.Sub(from) > MaxExtension:
		return Case{}, fault.Wrap(fault.Invalid, &InputError{Arg: "resolve_due", Msg: fmt.Sprintf("新的办结时限 %s 超出%s %s 之后 %d 天（最晚 %s）",
			When(resolveDue), fromWhat, When(from), int(MaxExtension/(24*time.Hour)), When(from.Add(MaxExtension)))})
	}
	if _, err := tx.Exec(ctx, `UPDATE assignments SET resolve_due = $2 WHERE case_id = $1 AND status = 'active'`, caseID, resolveDue); err != nil {
		return Case{}, fmt.Errorf("extend case %s: %w", caseID, err)
	}
	n, err := update(ctx, tx, caseID, at, `resolve_due = $3`, resolveDue)
	if err != nil {
		return Case{}, err
	}
	if err := dropTimers(ctx, tx, caseID, TimerResolve); err != nil {
		return Case{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO case_timers (case_id, kind, due_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, caseID, TimerResolve, resolveDue); err != nil {
		return Case{}, fmt.Errorf("set resolve timer of case %s: %w", caseID, err)
	}
	return n, recordFrom(ctx, tx, n, by, c.Status, "extend", KindExtended, reason, at, "", deadlineMove{kind: TimerResolve, before: c.ResolveDue, after: &resolveDue})
}

// Close closes out a resolved case (办结销号); the hotline is told through
// the case.closed event.
func Close(ctx context.Context, tx pgx.Tx, caseID string, by Actor, note string) (Case, error) {
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusResolved {
		return Case{}, conflict(c, "销号", StatusResolved)
	}
	at := nowFrom(ctx)
	if _, err := tx.Exec(ctx, `UPDATE assignments SET status = 'done', ended_at = $2 WHERE case_id = $1 AND status = 'active'`, caseID, at); err != nil {
		return Case{}, fmt.Errorf("close case %s: %w", caseID, err)
	}
	n, err := update(ctx, tx, caseID, at, `status = 'closed', closed_at = $2`)
	if err != nil {
		return Case{}, err
	}
	if err := dropTimers(ctx, tx, caseID, TimerSign, TimerResolve); err != nil {
		return Case{}, err
	}
	return n, record(ctx, tx, n, by, c.Status, "close", KindClosed, note, at)
}

// CloseResolved closes out (办结销号), as Close does, up to limit cases
// resolved before `before` that no complaint reopened: the router calls
// it with the end of its reopen window, after which a complaint at the
// place opens a new case. The oldest resolutions go first; a case
// another transaction holds waits for the next round.
func CloseResolved(ctx context.Context, tx pgx.Tx, by Actor, before time.Time, limit int, note string) ([]Case, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM cases WHERE status = 'resolved' AND resolved_at < $1
		ORDER BY resolved_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("find resolved cases to close: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find resolved cases to close: %w", err)
	}
	closed := make([]Case, 0, len(ids))
	for _, id := range ids {
		c, err := Close(ctx, tx, id, by, note)
		if err != nil {
			return nil, err
		}
		closed = append(closed, c)
	}
	return closed, nil
}

// Assignment is what the router decided for a case: the team, how it
// works the case and by when.
type Assignment struct {
	Team           string
	Mode           string // routing.ModeOnSite or routing.ModeNonSite
	Priority       string // routing.PriorityUrgent, PriorityHigh or PriorityNormal
	QuietCommunity string
	PositiveList   string
	SignDue        time.Time
	ResolveDue     time.Time
	// Rule or reason that decided, for the audit log.
	Reason string
}

func (a Assignment) validate() error {
	switch {
	case a.Team == "":
		return fault.Errorf(fault.Invalid, "assignment without a team")
	case a.Mode != routing.ModeOnSite && a.Mode != routing.ModeNonSite:
		return fault.Errorf(fault.Invalid, "assignment mode %q", a.Mode)
	case a.Priority != routing.PriorityUrgent && a.Priority != routing.PriorityHigh && a.Priority != routing.PriorityNormal:
		return fault.Errorf(fault.Invalid, "assignment priority %q", a.Priority)
	}
	return nil
}

// Assign gives an open or returned case to a team (派单). The partial unique
// index on assignments is the last line of defence: however many
// deliveries race, a case has at most one active assignment, and the
// losers get fault.Conflict.
func Assign(ctx context.Context, tx pgx.Tx, caseID string, by Actor, a Assignment) (Case, error) {
	if err := a.validate(); err != nil {
		return Case{}, err
	}
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusOpen && c.Status != StatusReturned {
		return Case{}, conflict(c, "派单", StatusOpen, StatusReturned)
	}
	returned, err := ReturnedTeams(ctx, tx, caseID)
	if err != nil {
		return Case{}, err
	}
	if slices.Contains(returned, a.Team) {
		return Case{}, fault.Errorf(fault.Conflict, "team %s returned case %s: it is not assigned to it again", a.Team, caseID)
	}
	return assign(ctx, tx, c, by, a, "assign", nowFrom(ctx), deadlineMove{})
}

func assign(ctx context.Context, tx pgx.Tx, c Case, by Actor, a Assignment, action string, at time.Time, moved deadlineMove) (Case, error) {
	var sign, resolve *time.Time
	if !a.SignDue.IsZero() {
		sign = &a.SignDue
	}
	if !a.ResolveDue.IsZero() {
		resolve = &a.ResolveDue
	}
	_, err := tx.Exec(ctx, `INSERT INTO assignments (case_id, team, mode, status, assigned_at, sign_due, resolve_due, reason)
		VALUES ($1, $2, $3, 'active', $4, $5, $6, NULLIF($7, ''))`, c.ID, a.Team, a.Mode, at, sign, resolve, a.Reason)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return Case{}, fault.Errorf(fault.Conflict, "案件 %s 已有承办中的派单", c.ID)
		}
		return Case{}, fmt.Errorf("assign case %s: %w", c.ID, err)
	}
	n, err := update(ctx, tx, c.ID, at, `status = 'assigned', team = $3, mode = $4, priority = $5,
		quiet_community = NULLIF($6, ''), positive_list = NULLIF($7, ''), sign_due = $8, resolve_due = $9, accepted_at = NULL`,
		a.Team, a.Mode, a.Priority, a.QuietCommunity, a.PositiveList, sign, resolve)
	if err != nil {
		return Case{}, err
	}
	if err := setTimers(ctx, tx, n); err != nil {
		return Case{}, err
	}
	previous := ""
	if c.Team != "" && c.Team != n.Team {
		previous = c.Team
	}
	return n, recordFrom(ctx, tx, n, by, c.Status, action, KindAssigned, a.Reason, at, previous, moved)
}

// NewCase is a case the router opens for the first complaint about a place.
type NewCase struct {
	ID          string
	ComplaintID string
	Category    string
	Subcategory string
	District    string
	Subdistrict string
	HotspotID   string
	Place       string
	PlaceKey    string
	Lon, Lat    *float64
	OpenedAt    time.Time
}

// IDFor is the id of the case opened for a complaint; deterministic, so a
// replayed complaint opens the same case.
func IDFor(complaintID string) string { return "case_" + complaintID }

// Open opens a case holding its first complaint. Opening a case that
// exists already returns it unchanged, so a replay is harmless.
func Open(ctx context.Context, tx pgx.Tx, by Actor, nc NewCase) (Case, bool, error) {
	if nc.ID == "" || nc.ComplaintID == "" || nc.Category == "" || nc.District == "" || nc.OpenedAt.IsZero() {
		return Case{}, false, fault.Errorf(fault.Invalid, "a new case needs an id, a complaint, a category, a district and a time")
	}
	at := nowFrom(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO cases (id, category, subcategory, district, subdistrict, status, hotspot_id, place, place_key,
			lon, lat, opened_at, updated_at, version)
		VALUES ($1, $2, NULLIF($3, ''), $4, NULLIF($5, ''), 'open', NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), $9, $10, $11, $12, 1)
		ON CONFLICT (id) DO NOTHING`,
		nc.ID, nc.Category, nc.Subcategory, nc.District, nc.Subdistrict, nc.HotspotID, nc.Place, nc.PlaceKey, nc.Lon, nc.Lat, nc.OpenedAt, at)
	if err != nil {
		return Case{}, false, fmt.Errorf("open case %s: %w", nc.ID, err)
	}
	if tag.RowsAffected() == 0 {
		c, err := Get(ctx, tx, nc.ID)
		return c, false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO case_complaints (complaint_id, case_id, joined_at) VALUES ($1, $2, $3)`, nc.ComplaintID, nc.ID, at); err != nil {
		return Case{}, false, fmt.Errorf("open case %s: %w", nc.ID, err)
	}
	c, err := Get(ctx, tx, nc.ID)
	if err != nil {
		return Case{}, false, err
	}
	return c, true, record(ctx, tx, c, by, "", "open", KindOpened, "complaint "+nc.ComplaintID, at)
}

// Merge joins a repeat complaint to a case (并案); every work order in the
// case is answered when it changes. A case without a hotspot adopts the
// complaint's, and a case takes the complaint's priority when it ranks
// higher than its own (an urgent complaint makes its case urgent).
// signDue and resolveDue are the complaint's own deadlines (zero: none);
// one earlier than the case's, while the case still has it to meet,
// becomes the case's, as in Writes.Merge. Merging a complaint the case
// holds already changes nothing and reports false.
func Merge(ctx context.Context, tx pgx.Tx, caseID string, by Actor, complaintID, hotspotID, priority string, signDue, resolveDue time.Time) (Case, bool, error) {
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, false, err
	}
	var ticket string
	var held bool
	err = tx.QueryRow(ctx, `SELECT m.ticket_id, EXISTS (SELECT 1 FROM case_complaints cc WHERE cc.complaint_id = m.id)
		FROM complaints m WHERE m.id = $1`, complaintID).Scan(&ticket, &held)
	if errors.Is(err, pgx.ErrNoRows) {
		return Case{}, false, fault.Errorf(fault.NotFound, "complaint %s not found", complaintID)
	}
	if err != nil {
		return Case{}, false, fmt.Errorf("merge %s into case %s: %w", complaintID, caseID, err)
	}
	// The router's own transition, sent at once.
	var w Writes
	n, err := w.Merge(c, by, complaintID, hotspotID, ticket, priority, signDue, resolveDue, nowFrom(ctx))
	if err != nil {
		return Case{}, false, err
	}
	if held {
		return c, false, nil
	}
	if err := w.Send(ctx, tx); err != nil {
		return Case{}, false, fmt.Errorf("merge %s into case %s: %w", complaintID, caseID, err)
	}
	return n, true, nil
}

// Reopen puts a resolved case back to its team when the nuisance comes
// back (a new complaint at its place within the reopen window), with new
// deadlines counted from that complaint.
func Reopen(ctx context.Context, tx pgx.Tx, caseID string, by Actor, signDue, resolveDue time.Time, reason string) (Case, error) {
	c, err := lockFor(ctx, tx, caseID, by)
	if err != nil {
		return Case{}, err
	}
	if c.Status != StatusResolved {
		return Case{}, conflict(c, "重新交办", StatusResolved)
	}
	at := nowFrom(ctx)
	var sign, resolve *time.Time
	if !signDue.IsZero() {
		sign = &signDue
	}
	if !resolveDue.IsZero() {
		resolve = &resolveDue
	}
	tag, err := tx.Exec(ctx, `UPDATE assignments SET accepted_at = NULL, sign_due = $2, resolve_due = $3 WHERE case_id = $1 AND status = 'active'`, caseID, sign, resolve)
	if err != nil {
		return Case{}, fmt.Errorf("reopen case %s: %w", caseID, err)
	}
	if tag.RowsAffected() != 1 {
		return Case{}, fault.Errorf(fault.Conflict, "case %s has no active assignment to reopen", caseID)
	}
	n, err := update(ctx, tx, caseID, at, `status = 'assigned', reopened = c.reopened + 1, outcome = NULL, accepted_at = NULL,
		resolved_at = NULL, sign_due = $3, resolve_due = $4`, sign, resolve)
	if err != nil {
		return Case{}, err
	}
	if err := setTimers(ctx, tx, n); err != nil {
		return Case{}, err
	}
	// The audit keeps the resolve deadline the reopen replaced, so that a
	// week's report generated again later still sees the case as it stood.
	return n, recordFrom(ctx, tx, n, by, c.Status, "reopen", KindReopened, reason, at, "",
		deadlineMove{kind: TimerResolve, before: c.ResolveDue, after: n.ResolveDue, signBefore: c.SignDue})
}

// Escalation is one deadline that passed (督办).
type Escalation struct {
	CaseID string
	Kind   string // TimerSign or TimerResolve
	DueAt  time.Time
	// Escalated is false when the case had moved on by the time the
	// timer fired (signed for, resolved, returned) and nothing was done.
	Escalated bool
}

// EscalateDue fires the deadline timers due at now, at most limit of
// them. Each timer is claimed (fired_at set) in tx with SKIP LOCKED, so
// several routers and restarts fire each timer exactly once: the claim and
// the escalation commit together or not at all. The timers are worked as
// a set: one statement claims them, one locks their cases (in the order of
// their ids, as the router locks a batch's cases, so the two never wait
// for each other in a circle) and one round trip writes the escalations.
func EscalateDue(ctx context.Context, tx pgx.Tx, by Actor, now time.Time, limit int) ([]Escalation, error) {
	if err := by.check(); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `UPDATE case_timers t SET fired_at = $1
		FROM (SELECT case_id, kind, due_at FROM case_timers WHERE fired_at IS NULL AND due_at <= $1
			ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) d
		WHERE t.case_id = d.case_id AND t.kind = d.kind AND t.due_at = d.due_at
		RETURNING t.case_id, t.kind, t.due_at`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim due timers: %w", err)
	}
	due, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Escalation, error) {
		var e Escalation
		err := r.Scan(&e.CaseID, &e.Kind, &e.DueAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim due timers: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	// The claim's order is the deadlines'; escalate in it, and the
	// earlier deadline of a case first.
	slices.SortStableFunc(due, func(a, b Escalation) int { return a.DueAt.Compare(b.DueAt) })
	ids := make([]string, 0, len(due))
	for _, e := range due {
		ids = append(ids, e.CaseID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows, err = tx.Query(ctx, `SELECT `+caseColumns+` FROM cases c WHERE c.id = ANY($1) ORDER BY c.id FOR UPDATE OF c`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock %d cases with due deadlines: %w", len(ids), err)
	}
	type locked struct{ c Case }
	cases := make(map[string]*locked, len(ids))
	for rows.Next() {
		l := &locked{}
		if l.c, err = scanCase(rows); err != nil {
			rows.Close()
			return nil, fmt.Errorf("lock %d cases with due deadlines: %w", len(ids), err)
		}
		cases[l.c.ID] = l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock %d cases with due deadlines: %w", len(ids), err)
	}
	var w Writes
	for i, e := range due {
		l, ok := cases[e.CaseID]
		if !ok {
			return nil, fault.Errorf(fault.NotFound, "case %s not found", e.CaseID)
		}
		if !(l.c.Status == StatusAssigned || (e.Kind == TimerResolve && l.c.Status == StatusAccepted)) {
			continue // moved on: signed for, resolved, returned
		}
		if !l.c.isDeadline(e.Kind, e.DueAt) {
			continue // superseded: an earlier deadline of a merged complaint, or a reopen's
		}
		if l.c, err = w.escalate(l.c, by, e, now); err != nil {
			return nil, err
		}
		due[i].Escalated = true
	}
	if err := w.Send(ctx, tx); err != nil {
		return nil, fmt.Errorf("escalate %d cases: %w", w.Cases(), err)
	}
	return due, nil
}

// isDeadline reports whether due is c's current deadline of the timer
// kind: a timer of a deadline since replaced fires without effect.
func (c Case) isDeadline(kind string, due time.Time) bool {
	d := c.SignDue
	if kind == TimerResolve {
		d = c.ResolveDue
	}
	return d != nil && d.Equal(due)
}
