-- +goose Up
-- A correction is applied when the geocoder has stored it and sent the
-- complaint on. Until then a second correction of the same complaint is
-- refused: applied one after the other, the second would change where the
-- complaint is after the first had already put it in a case. Corrections
-- made before this column are taken as applied.
ALTER TABLE triage_corrections ADD COLUMN applied_at timestamptz;
UPDATE triage_corrections SET applied_at = at;

-- +goose Down
ALTER TABLE triage_corrections DROP COLUMN applied_at;
