-- +goose Up
-- The delivery claim walks the due callbacks in next_at order and checks
-- for each that no earlier callback of its work order waits. That check
-- must read callbacks_ticket_order, (ticket_id, at, id), which answers its
-- row comparison from the index. callbacks_due gains "next_at IS NOT NULL"
-- (always true) so that only the claim's own "next_at <= $1" matches it:
-- while the table's statistics lag behind its growth, the planner once
-- took callbacks_due for the per-ticket check too, reading every waiting
-- callback for each candidate.
-- A merge's check for a work order the hotline already heard of in a case
-- reads (case_id, ticket_id). Every index costs each of a callback's three
-- writes (stored, claimed, recorded), so the ones these supersede go.
CREATE INDEX callbacks_due_at ON callbacks (next_at) WHERE delivered_at IS NULL AND dead_at IS NULL AND next_at IS NOT NULL;
CREATE INDEX callbacks_ticket_order ON callbacks (ticket_id, at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX callbacks_case_ticket ON callbacks (case_id, ticket_id);
DROP INDEX callbacks_due;
DROP INDEX callbacks_ticket_pending;
DROP INDEX callbacks_ticket;
DROP INDEX callbacks_case;

-- +goose Down
CREATE INDEX callbacks_case ON callbacks (case_id);
CREATE INDEX callbacks_ticket ON callbacks (ticket_id);
CREATE INDEX callbacks_ticket_pending ON callbacks (ticket_id, at) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX callbacks_due ON callbacks (next_at) WHERE delivered_at IS NULL AND dead_at IS NULL;
DROP INDEX callbacks_case_ticket;
DROP INDEX callbacks_ticket_order;
DROP INDEX callbacks_due_at;
