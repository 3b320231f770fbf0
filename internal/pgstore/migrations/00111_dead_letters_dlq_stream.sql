-- +goose Up
-- When the DLQ stream that holds a dead letter's copy (dlq_seq) was
-- created, as NATS gave it to the consumer before it published the copy.
-- A stream declared again (NATS lost its data, an operator deleted it)
-- numbers its messages from 1 again: a sequence recorded for the stream
-- before holds another dead letter's copy in the new one, and the
-- retention job deletes by sequence only a copy of the stream it was
-- recorded for. NULL: recorded before this column (the job then takes a
-- stream created after the dead letter was written for another). No
-- default: adding it rewrites nothing.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS dlq_stream_created timestamptz;

-- +goose Down
ALTER TABLE dead_letters DROP COLUMN IF EXISTS dlq_stream_created;
