-- +goose Up
-- The sweeper asks whether a consumer gave up on an event.
CREATE INDEX dead_letters_consumer_event ON dead_letters (consumer, event_id) WHERE event_id IS NOT NULL;

-- +goose Down
DROP INDEX dead_letters_consumer_event;
