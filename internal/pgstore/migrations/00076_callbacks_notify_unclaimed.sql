-- +goose Up
-- Only callbacks stored unclaimed wake the deliverers: the consumer hands
-- the ones it claims as it stores them (attempts = 1) to the deliverers
-- itself, and a wake-up for those would only send DeliverOnce looking
-- for work that is not due.
DROP TRIGGER callbacks_notify ON callbacks;
CREATE TRIGGER callbacks_notify AFTER INSERT ON callbacks
    FOR EACH ROW WHEN (NEW.attempts = 0) EXECUTE FUNCTION callbacks_notify();

-- +goose Down
DROP TRIGGER callbacks_notify ON callbacks;
CREATE TRIGGER callbacks_notify AFTER INSERT ON callbacks
    FOR EACH STATEMENT EXECUTE FUNCTION callbacks_notify();
