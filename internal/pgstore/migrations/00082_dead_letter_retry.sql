-- +goose Up
-- An operator asks for a dead letter to be sent again once what made its
-- consumer give up is fixed (`nuisance deadletters retry`); the outbox
-- relay of the process that may publish its subject sends it and records
-- when. The row stays, as the record of what happened.
ALTER TABLE dead_letters ADD COLUMN retry_requested_at timestamptz, ADD COLUMN retried_at timestamptz;
CREATE INDEX dead_letters_retry ON dead_letters (id) WHERE retry_requested_at IS NOT NULL AND retried_at IS NULL;

-- +goose Down
DROP INDEX dead_letters_retry;
ALTER TABLE dead_letters DROP COLUMN retry_requested_at, DROP COLUMN retried_at;
