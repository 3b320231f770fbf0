-- +goose Up
-- A stored weekly report is generated again when a supervisor's triage
-- correction moves or reclassifies a complaint of its week after it was
-- stored: corrections is the sum of locations.corrections over the
-- week's complaints it was generated from. A revised report says so:
-- when the week was first generated (first_generated_at, the report's
-- own clock, and first_stored_at, the database's, which the corrections'
-- and late complaints' times are compared with) and how many times it
-- has been generated again since (revisions). Reports stored before
-- count no correction: a week with corrections is generated once again.
ALTER TABLE weekly_reports ADD COLUMN corrections int NOT NULL DEFAULT 0,
    ADD COLUMN revisions int NOT NULL DEFAULT 0,
    ADD COLUMN first_generated_at timestamptz,
    ADD COLUMN first_stored_at timestamptz;
UPDATE weekly_reports SET first_generated_at = generated_at, first_stored_at = generated_at;
ALTER TABLE weekly_reports ALTER COLUMN first_generated_at SET DEFAULT now(),
    ALTER COLUMN first_generated_at SET NOT NULL,
    ALTER COLUMN first_stored_at SET DEFAULT now(),
    ALTER COLUMN first_stored_at SET NOT NULL;

-- +goose Down
ALTER TABLE weekly_reports DROP COLUMN corrections, DROP COLUMN revisions,
    DROP COLUMN first_generated_at, DROP COLUMN first_stored_at;
