-- +goose NO TRANSACTION
-- +goose Up
-- A work order loaded as history (complaints.history) that could not be
-- placed or classified waits on the triage list apart from today's: the
-- supervisors' list leaves it out unless asked for (?history=true). The
-- geocoder copies the mark to the entry as it writes it, so the default
-- list reads today's entries alone, through triage_open_live, however
-- many a backfill left: a year's backfill puts thousands there. The
-- default is a constant, so the column is added without rewriting the
-- table; the entries a backfill already left are marked (row locks on
-- them alone), and the officers also read the complaint's own mark, so
-- an entry an older geocoder writes during a rollout is still kept
-- apart. Each step may run again after a lock timeout. The index is
-- built CONCURRENTLY; an INVALID one a timed-out attempt left is dropped
-- first.
ALTER TABLE triage ADD COLUMN IF NOT EXISTS history boolean NOT NULL DEFAULT false;
UPDATE triage t SET history = true FROM complaints c
WHERE c.id = t.complaint_id AND c.history AND NOT t.history AND t.resolved_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS triage_open_live;
CREATE INDEX CONCURRENTLY triage_open_live ON triage (created_at) WHERE resolved_at IS NULL AND NOT history;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS triage_open_live;
ALTER TABLE triage DROP COLUMN IF EXISTS history;
