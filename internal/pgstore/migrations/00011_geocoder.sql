-- +goose Up
-- The geocoder keeps what officers need to judge its result: the
-- sub-district's statistics code, how sure the classifier was, why the
-- complaint is a priority, and how many times a supervisor corrected it
-- (the n of the complaint.located event id <complaint_id>.located.c<n>).
ALTER TABLE locations
    ADD COLUMN subdistrict_code text,
    ADD COLUMN classify_score   double precision,
    ADD COLUMN priority_reason  text,
    ADD COLUMN corrections      int NOT NULL DEFAULT 0;

-- The triage list is read by kind (unlocated, unclassified) newest first.
CREATE INDEX triage_open_kind ON triage (kind, created_at) WHERE resolved_at IS NULL;

-- +goose Down
DROP INDEX triage_open_kind;
ALTER TABLE locations
    DROP COLUMN corrections,
    DROP COLUMN priority_reason,
    DROP COLUMN classify_score,
    DROP COLUMN subdistrict_code;
