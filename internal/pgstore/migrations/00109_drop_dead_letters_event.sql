-- +goose NO TRANSACTION
-- +goose Up
-- dead_letters_event (00091) indexes event_id under the default operator
-- class; dead_letters_event_prefix (00104) indexes the same column, with
-- the same predicate, under text_pattern_ops, whose btree serves equality
-- (=) as well as the prefix ranges (~>=~, ~<~). Every look-up by event id
-- alone (the retention job keeping the idempotency record of an event a
-- dead letter holds, and finding the dead letters of a complaint) reads
-- the one index; the other was a second entry for every dead letter
-- written, read by nothing. Dropped CONCURRENTLY: the consumers write
-- dead letters at any time.
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_event;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_event;
CREATE INDEX CONCURRENTLY dead_letters_event ON dead_letters (event_id) WHERE event_id IS NOT NULL;
