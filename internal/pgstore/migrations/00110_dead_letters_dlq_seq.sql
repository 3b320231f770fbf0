-- +goose Up
-- The sequence of a dead letter's copy on the DLQ stream, as JetStream
-- acknowledged its publication: the retention job deletes the copy by it
-- once the dead letter is older than NUISANCE_PII_RETENTION, and clears
-- it. NULL: no copy (the relay's dead letters, one whose publication
-- failed, one written before this column), or deleted already. No
-- default: adding it rewrites nothing.
ALTER TABLE dead_letters ADD COLUMN dlq_seq bigint;

-- +goose Down
ALTER TABLE dead_letters DROP COLUMN dlq_seq;
