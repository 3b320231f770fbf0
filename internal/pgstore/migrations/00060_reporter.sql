-- +goose Up
-- The weekly report's look-ups: cases by the deadline that fell in a
-- week, cases overdue at a week's end, and escalations in the audit log
-- by time.
CREATE INDEX cases_sign_due ON cases (sign_due);
CREATE INDEX cases_resolve_due ON cases (resolve_due);
CREATE INDEX cases_unresolved_due ON cases (resolve_due) WHERE resolved_at IS NULL AND closed_at IS NULL;
CREATE INDEX cases_finished ON cases ((COALESCE(resolved_at, closed_at)));
CREATE INDEX case_audit_at ON case_audit (at);

-- +goose Down
DROP INDEX case_audit_at;
DROP INDEX cases_finished;
DROP INDEX cases_unresolved_due;
DROP INDEX cases_resolve_due;
DROP INDEX cases_sign_due;
