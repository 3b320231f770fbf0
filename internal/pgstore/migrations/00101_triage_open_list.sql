-- +goose NO TRANSACTION
-- +goose Up
-- The supervisors' triage list reads each side (today's, history's, by
-- the entry's mark: 00100) newest first by (created_at, complaint_id),
-- and a page after a cursor from the cursor on. triage_open_live held
-- today's by created_at alone, and the history was read through
-- triage_open, today's entries with it: the geocoder writes a batch's
-- entries with one created_at, so a page read every entry of the
-- cursor's batch (up to 500) before its own, and the first page of
-- history every open entry of today newer than the backfill. With the
-- mark first and complaint_id last, a page reads a page of entries, on
-- either side; kind is carried for the count of the first page, which
-- reads the index alone. The two indexes it replaces serve no other
-- query: the others look an entry up by its complaint_id, by kind
-- (triage_open_kind) or read every open one (the gauges). Built
-- CONCURRENTLY (the geocoder writes triage all the time) before those
-- go; an INVALID index a timed-out attempt left is dropped first.
DROP INDEX CONCURRENTLY IF EXISTS triage_open_list;
CREATE INDEX CONCURRENTLY triage_open_list ON triage (history, created_at, complaint_id) INCLUDE (kind) WHERE resolved_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS triage_open_live;
DROP INDEX CONCURRENTLY IF EXISTS triage_open;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS triage_open;
CREATE INDEX CONCURRENTLY triage_open ON triage (created_at) WHERE resolved_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS triage_open_live;
CREATE INDEX CONCURRENTLY triage_open_live ON triage (created_at) WHERE resolved_at IS NULL AND NOT history;
DROP INDEX CONCURRENTLY IF EXISTS triage_open_list;
