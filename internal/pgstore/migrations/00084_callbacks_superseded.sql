-- +goose Up
-- A callback is never sent once the hotline may have heard a later one of
-- its work order: sent after it, it would take the work order back (an
-- 'assigned' after its 'resolved'). Such a callback, a case event that
-- came late or a dead delivery the operator retries after a later one
-- went out, is superseded: ended like a dead one (dead_at, so that no
-- queue holds it), naming the callback that superseded it, and counted,
-- listed and retried as dead no more.
ALTER TABLE callbacks ADD COLUMN superseded_by text;

-- +goose Down
ALTER TABLE callbacks DROP COLUMN superseded_by;
