-- +goose Up
-- New callbacks wake the deliverers when their transaction commits, so a
-- callback goes out at once instead of at the next poll.
-- +goose StatementBegin
CREATE FUNCTION callbacks_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callbacks', '');
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER callbacks_notify AFTER INSERT ON callbacks
    FOR EACH STATEMENT EXECUTE FUNCTION callbacks_notify();

-- +goose Down
DROP TRIGGER callbacks_notify ON callbacks;
DROP FUNCTION callbacks_notify();
