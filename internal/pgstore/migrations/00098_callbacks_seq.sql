-- +goose NO TRANSACTION
-- +goose Up
-- A work order's callbacks go out in the order the database recorded
-- their transitions: seq is the id of the transition's case_audit entry,
-- which the case's row lock puts in commit order, where at is the time
-- the service that made the transition stamped, on its machine's clock. A
-- callback stored before has seq 0 (a constant default: no rewrite) and
-- keeps its place by (at, id), ahead of those stored since.
-- callbacks_ticket_seq answers the claim's check for an earlier waiting
-- callback of the work order, (seq, at, id), from the index, as
-- callbacks_ticket_order answered it for (at, id); built CONCURRENTLY
-- before that one goes, so that the claim always has one.
ALTER TABLE callbacks ADD COLUMN seq bigint NOT NULL DEFAULT 0;
DROP INDEX CONCURRENTLY IF EXISTS callbacks_ticket_seq;
CREATE INDEX CONCURRENTLY callbacks_ticket_seq ON callbacks (ticket_id, seq, at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS callbacks_ticket_order;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS callbacks_ticket_order;
CREATE INDEX CONCURRENTLY callbacks_ticket_order ON callbacks (ticket_id, at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS callbacks_ticket_seq;
ALTER TABLE callbacks DROP COLUMN seq;
