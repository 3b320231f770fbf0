-- +goose Up
-- retry_since starts a delivery's 24-hour retry window; an operator's
-- retry of a dead delivery starts a new one.
ALTER TABLE callbacks ADD COLUMN retry_since timestamptz NOT NULL DEFAULT now();
ALTER TABLE callbacks ADD COLUMN event_id text;
CREATE INDEX callbacks_dead ON callbacks (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX callbacks_ticket_pending ON callbacks (ticket_id, at) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX callbacks_case ON callbacks (case_id);

-- +goose Down
DROP INDEX callbacks_case;
DROP INDEX callbacks_ticket_pending;
DROP INDEX callbacks_dead;
ALTER TABLE callbacks DROP COLUMN event_id;
ALTER TABLE callbacks DROP COLUMN retry_since;
