-- +goose Up
-- The relay publishes the payload as it was written: json keeps the bytes
-- and costs less to store than jsonb, which nothing queries.
ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json;

-- +goose Down
ALTER TABLE outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
