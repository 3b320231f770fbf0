-- +goose NO TRANSACTION
-- +goose Up
-- The retention job walks the complaints whose personal data it has not
-- erased, oldest first; erased ones leave the index, so a pass reads the
-- complaints of the retention period and the few still in open cases,
-- not every complaint ever received. It costs the intake one index entry
-- a work order (00005 dropped complaints_created_at, which nothing read).
-- It also keeps the idempotency record of every event a dead letter
-- holds, whatever its age: an operator may send a dead letter again at
-- any time, to every consumer of its subject, and the consumers that
-- handled it long ago must still skip it. Dead letters are few; the
-- index lets the job ask by event id alone.
-- Built CONCURRENTLY (the intake writes complaints all the time); an
-- earlier attempt that gave up on a lock left an INVALID index: dropped
-- first.
DROP INDEX CONCURRENTLY IF EXISTS complaints_pii_held;
CREATE INDEX CONCURRENTLY complaints_pii_held ON complaints (created_at, id) WHERE pii_erased_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_event;
CREATE INDEX CONCURRENTLY dead_letters_event ON dead_letters (event_id) WHERE event_id IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_event;
DROP INDEX CONCURRENTLY IF EXISTS complaints_pii_held;
