-- +goose NO TRANSACTION
-- +goose Up
-- The reporter looks every minute for the weeks whose complaints a
-- supervisor corrected since their report was stored: through the few
-- corrected complaints alone. Built CONCURRENTLY (locations takes a row
-- per complaint); an INVALID index a timed-out attempt left is dropped
-- first.
DROP INDEX CONCURRENTLY IF EXISTS locations_corrected;
CREATE INDEX CONCURRENTLY locations_corrected ON locations (received_at) INCLUDE (corrections, located_at) WHERE corrections > 0;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS locations_corrected;
