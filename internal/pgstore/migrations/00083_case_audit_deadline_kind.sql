-- +goose Up
-- Which deadline an audit entry's due_before concerns: 'sign' (签收) or
-- 'resolve' (办结). An escalation (督办) records the deadline that passed
-- and its kind, so the weekly report says what was missed and when; an
-- extension concerns the resolve deadline.
ALTER TABLE case_audit ADD COLUMN deadline text CHECK (deadline IN ('sign', 'resolve'));

-- +goose Down
ALTER TABLE case_audit DROP COLUMN deadline;
