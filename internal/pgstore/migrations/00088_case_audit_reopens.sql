-- +goose NO TRANSACTION
-- +goose Up
-- The weekly report reads the cases reopened after its week, whose
-- resolve deadline and resolution the reopen replaced, through the
-- reopens alone. Built CONCURRENTLY: case_audit takes a row for every
-- transition, and a plain CREATE INDEX would hold every writer of it
-- (the router, the officers) for the whole build. An earlier attempt that
-- gave up on a lock (lock_timeout) left an INVALID index behind: dropped
-- first.
DROP INDEX CONCURRENTLY IF EXISTS case_audit_reopens;
CREATE INDEX CONCURRENTLY case_audit_reopens ON case_audit (at) WHERE action = 'reopen';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS case_audit_reopens;
