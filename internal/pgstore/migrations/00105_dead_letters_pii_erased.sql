-- +goose Up
-- When the retention job swept a dead letter's payload of the callers'
-- data it may carry (a caller field, phone numbers and the callers'
-- names in its texts), NUISANCE_PII_RETENTION after it was written: a
-- dead letter swept is not read again. NULL: the payload is as the
-- consumer gave up on it. No default, so the column is added without
-- rewriting the table.
ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS pii_erased_at timestamptz;

-- +goose Down
ALTER TABLE dead_letters DROP COLUMN IF EXISTS pii_erased_at;
