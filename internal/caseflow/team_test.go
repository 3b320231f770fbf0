package caseflow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xiamen-eeb/nuisance/internal/caseflow"
	"github.com/xiamen-eeb/nuisance/internal/fault"
)

// A supervisor sees the district's cases but does not sign for, resolve
// or return one in a team's name: the refusal says whose it is and what a
// supervisor does instead. A supervisor who is a member of the team acts
// as one.
func TestOnlyTheAssignedTeamSignsResolvesAndReturns(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	c := assigned(t, ctx, pool, "T1", "siming-eco")
	sup := caseflow.Actor{ID: "officer:s1", District: "siming", Role: caseflow.RoleSupervisor}
	admin := caseflow.Actor{ID: "officer:a1", Role: caseflow.RoleAdmin}
	otherTeamSup := caseflow.Actor{ID: "officer:s3", Team: "siming-urban", District: "siming", Role: caseflow.RoleSupervisor}
	memberSup := caseflow.Actor{ID: "officer:s4", Team: "siming-eco", District: "siming", Role: caseflow.RoleSupervisor}
	own := caseflow.Actor{ID: "officer:o1", Team: "siming-eco", District: "siming", Role: caseflow.RoleOfficer}

	refused := func(name, action string, do func(tx pgx.Tx) error) {
		t.Helper()
		err := tx(t, ctx, pool, do)
		if fault.KindOf(err) != fault.Forbidden {
			t.Errorf("%s: %v (%s), want forbidden", name, err, fault.KindOf(err))
			return
		}
		for _, w := range []string{action, "思明区生态环境执法大队 (siming-eco)", c.ID, "改派", "延期"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", name, err, w)
			}
		}
	}
	for _, by := range []caseflow.Actor{sup, admin, otherTeamSup} {
		refused(by.ID+" accepts", "签收", func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, c.ID, by); return err })
		refused(by.ID+" returns", "退单", func(tx pgx.Tx) error { _, err := caseflow.Return(ctx, tx, c.ID, by, "属于城管职责"); return err })
	}
	got, err := caseflow.Get(ctx, pool, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != caseflow.StatusAssigned || got.Version != c.Version {
		t.Fatalf("after the refusals the case is %s at version %d, want assigned at %d", got.Status, got.Version, c.Version)
	}
	for _, e := range events(t, ctx, pool, c.ID) {
		if e.Subject == "case.accepted" || e.Subject == "case.returned" {
			t.Errorf("a refused transition announced %s", e.Subject)
		}
	}

	// A supervisor of the team signs for it as a member.
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, c.ID, memberSup); return err }); err != nil {
		t.Fatalf("a supervisor who is a member of the team signs for its case: %v", err)
	}
	for _, by := range []caseflow.Actor{sup, admin, otherTeamSup} {
		refused(by.ID+" resolves", "办结", func(tx pgx.Tx) error {
			_, err := caseflow.Resolve(ctx, tx, c.ID, by, caseflow.OutcomeRectified, "")
			return err
		})
	}
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		_, err := caseflow.Resolve(ctx, tx, c.ID, own, caseflow.OutcomeRectified, "")
		return err
	}); err != nil {
		t.Fatalf("the team resolves its case: %v", err)
	}

	// A case no team holds is no supervisor's to sign for either.
	open := assigned(t, ctx, pool, "T2", "siming-eco")
	if err := tx(t, ctx, pool, func(tx pgx.Tx) error {
		_, err := caseflow.Return(ctx, tx, open.ID, own, "属于城管职责")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	err = tx(t, ctx, pool, func(tx pgx.Tx) error { _, err := caseflow.Accept(ctx, tx, open.ID, sup); return err })
	if fault.KindOf(err) != fault.Forbidden || !strings.Contains(err.Error(), "目前无单位承办") {
		t.Errorf("a supervisor signs for a returned case: %v (%s), want forbidden, saying no team holds it", err, fault.KindOf(err))
	}
}

// The errors a supervisor reads in the console give times in Xiamen time
// and teams and districts by their names.
func TestSupervisorErrorsSpeakXiamenTimeAndNames(t *testing.T) {
	t.Parallel()
	ctx, pool := setup(t)
	c := assigned(t, ctx, pool, "T1", "siming-eco") // resolve due 2024-03-12 16:00 UTC, 2024-03-13 00:00 in Xiamen
	sup := caseflow.Actor{ID: "officer:s1", District: "siming", Role: caseflow.RoleSupervisor}
	now := caseflow.WithClock(ctx, func() time.Time { return time.Date(2024, 3, 10, 2, 0, 0, 0, time.UTC) })
	late := caseflow.WithClock(ctx, func() time.Time { return time.Date(2024, 3, 12, 16, 24, 8, 0, time.UTC) })
	for _, tt := range []struct {
		name string
		do   func(tx pgx.Tx) error
		want []string
	}{
		{"too far", func(tx pgx.Tx) error {
			_, err := caseflow.Extend(now, tx, c.ID, sup, time.Date(2024, 4, 30, 15, 59, 59, 0, time.UTC), "分阶段整改")
			return err
		}, []string{"2024-04-30 23:59:59 +08:00", "2024-03-13 00:00 +08:00", "2024-04-12 00:00 +08:00"}},
		{"not later", func(tx pgx.Tx) error {
			_, err := caseflow.Extend(now, tx, c.ID, sup, time.Date(2024, 3, 12, 10, 0, 0, 0, time.UTC), "分阶段整改")
			return err
		}, []string{"2024-03-12 18:00 +08:00", "2024-03-13 00:00 +08:00"}},
		{"overdue", func(tx pgx.Tx) error {
			_, err := caseflow.Extend(late, tx, c.ID, sup, time.Date(2024, 3, 20, 15, 59, 59, 0, time.UTC), "分阶段整改")
			return err
		}, []string{"办结时限 2024-03-13 00:00 +08:00 已过"}},
		{"another district's team", func(tx pgx.Tx) error {
			_, err := caseflow.Reassign(ctx, tx, c.ID, sup, "huli-eco", "商铺噪声")
			return err
		}, []string{"湖里区生态环境执法大队 (huli-eco)属湖里区", "在思明区"}},
		{"the same team", func(tx pgx.Tx) error {
			_, err := caseflow.Reassign(ctx, tx, c.ID, sup, "siming-eco", "商铺噪声")
			return err
		}, []string{"已由思明区生态环境执法大队 (siming-eco)承办"}},
	} {
		err := tx(t, ctx, pool, tt.do)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tt.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "Z ") || strings.HasSuffix(err.Error(), "Z") || strings.Contains(err.Error(), "T16:") {
			t.Errorf("%s: %q gives a time in UTC", tt.name, err)
		}
	}
}
