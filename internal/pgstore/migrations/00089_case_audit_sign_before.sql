-- +goose Up
-- A reopen replaces the sign deadline as well as the resolve deadline
-- (due_before): the weekly report of an ended week, generated again after
-- the reopen, reads the sign deadline the week saw here.
ALTER TABLE case_audit ADD COLUMN sign_due_before timestamptz;

-- +goose Down
ALTER TABLE case_audit DROP COLUMN sign_due_before;
