-- +goose Up
-- A dead callback the hotline will never take (it deleted the work order
-- and answers 404 or 410 for ever) is discarded by an operator (`nuisance
-- callbacks discard`): kept for the record, with when, by whom and why,
-- and still dead (dead_at, so that no queue holds it: the work order's
-- later callbacks go out), but counted, listed and retried as dead no
-- more. No default, so the columns are added without rewriting the table.
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS discarded_at timestamptz;
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS discarded_by text;
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS discard_reason text;

-- +goose Down
ALTER TABLE callbacks DROP COLUMN IF EXISTS discard_reason;
ALTER TABLE callbacks DROP COLUMN IF EXISTS discarded_by;
ALTER TABLE callbacks DROP COLUMN IF EXISTS discarded_at;
