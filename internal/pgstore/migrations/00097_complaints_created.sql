-- +goose NO TRANSACTION
-- +goose Up
-- The reporter reads, every minute on every replica, the weeks of the
-- complaints stored since its last look (a backfill of history makes old
-- weeks' stored reports stale): by created_at, which no index served
-- (00005 dropped complaints_created_at, 00091's complaints_pii_held holds
-- only complaints not erased), so each look read every complaint ever
-- received. One index entry a work order, at the right edge of the tree.
-- Built CONCURRENTLY (the intake writes complaints all the time); an
-- INVALID index a timed-out attempt left is dropped first.
DROP INDEX CONCURRENTLY IF EXISTS complaints_created_at;
CREATE INDEX CONCURRENTLY complaints_created_at ON complaints (created_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS complaints_created_at;
