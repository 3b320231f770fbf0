-- +goose Up
-- When the callers' personal data of a complaint was erased (its name and
-- phone set to NULL, phone numbers in its words and address masked) by
-- the retention job, NUISANCE_PII_RETENTION after its case ended. NULL:
-- kept, as every complaint is while the setting is off.
ALTER TABLE complaints ADD COLUMN pii_erased_at timestamptz;

-- +goose Down
ALTER TABLE complaints DROP COLUMN pii_erased_at;
