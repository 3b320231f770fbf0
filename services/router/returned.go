package router

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/event"
	"github.com/xiamen-eeb/nuisance/internal/fault"
	"github.com/xiamen-eeb/nuisance/internal/natsx"
	"github.com/xiamen-eeb/nuisance/internal/routing"
)

// HandleCaseReturned routes a returned case (退单) again, excluding every
// team that ever returned it, with deadlines counted from now: the new
// team has its full time. When no team is left, the case's complaints go
// to triage as unrouted and a supervisor reassigns it.
func (s *Service) HandleCaseReturned(ctx context.Context, tx pgx.Tx, ev event.CaseChanged, _ natsx.Meta) error {
	if ev.Continuation() {
		return nil // more work orders of a return already handled
	}
	ctx = caseflow.WithClock(ctx, s.cfg.Now)
	c, err := caseflow.Get(ctx, tx, ev.CaseID)
	if fault.KindOf(err) == fault.NotFound {
		return fault.Wrap(fault.Invalid, err)
	}
	if err != nil {
		return err
	}
	if c.Status != caseflow.StatusReturned {
		return nil // routed again already, or reassigned by a supervisor
	}
	excluded, err := caseflow.ReturnedTeams(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	dec, err := s.route(routing.Request{
		Category:     c.Category,
		Subcategory:  c.Subcategory,
		District:     c.District,
		Lon:          c.Lon,
		Lat:          c.Lat,
		Place:        c.Place,
		At:           s.now(),
		Priority:     c.Priority == routing.PriorityHigh,
		Urgent:       c.Priority == routing.PriorityUrgent,
		ExcludeTeams: excluded,
	})
	var noRoute *routing.NoRouteError
	if errors.As(err, &noRoute) {
		complaints, err := caseflow.Complaints(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		reasons := make([]string, len(complaints))
		for i := range reasons {
			reasons[i] = fmt.Sprintf("case %s returned: %s", c.ID, noRoute.Error())
		}
		routed.WithLabelValues("unrouted").Inc()
		return unrouted(ctx, tx, complaints, reasons)
	}
	if err != nil {
		return fmt.Errorf("route returned case %s: %w", c.ID, err)
	}
	reason := "rule " + dec.Rule + " after return by " + strings.Join(excluded, ", ")
	if _, err := caseflow.Assign(ctx, tx, c.ID, actor, assignment(dec, reason)); err != nil {
		return err
	}
	return nil
}
