-- +goose Up
-- No query reads complaints by created_at; the index only cost every
-- intake commit one more index insertion per work order.
DROP INDEX complaints_created_at;

-- +goose Down
CREATE INDEX complaints_created_at ON complaints (created_at);
