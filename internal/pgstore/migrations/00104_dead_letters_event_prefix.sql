-- +goose NO TRANSACTION
-- +goose Up
-- The retention job erases the caller of a complaint that stopped on a
-- dead letter of one of its events (<complaint id>.received, .located,
-- .clustered.c2, ...) and is in no case and on no list. It looks a
-- complaint's dead letters up by that prefix, which this index serves
-- whatever the database's collation: text_pattern_ops compares bytes,
-- where the default operator class (dead_letters_event, 00091) serves a
-- prefix only under the C collation. Built CONCURRENTLY (the consumers
-- write dead letters at any time); an INVALID index a timed-out attempt
-- left is dropped first.
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_event_prefix;
CREATE INDEX CONCURRENTLY dead_letters_event_prefix ON dead_letters (event_id text_pattern_ops) WHERE event_id IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS dead_letters_event_prefix;
