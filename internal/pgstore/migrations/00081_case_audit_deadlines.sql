-- +goose Up
-- An extension of a case's resolve deadline (延期) keeps, in its audit
-- entry, the deadline it replaced and the one it granted: the case's
-- record and the weekly report say by how much, not only that it was
-- extended. NULL for every other transition.
ALTER TABLE case_audit ADD COLUMN due_before timestamptz, ADD COLUMN due_after timestamptz;

-- +goose Down
ALTER TABLE case_audit DROP COLUMN due_before, DROP COLUMN due_after;
