-- +goose Up
-- A stored weekly report is generated again while it may still change:
-- when its week has more complaints than it counted (a hotline retry, a
-- backfill), or fewer of them on their way through the pipeline than as
-- it was generated (unsettled), as after a restart with a backlog.
-- Reports stored before count none, and are generated once again.
ALTER TABLE weekly_reports ADD COLUMN complaints int NOT NULL DEFAULT 0,
    ADD COLUMN unsettled int NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE weekly_reports DROP COLUMN complaints, DROP COLUMN unsettled;
