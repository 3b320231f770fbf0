-- +goose Up
-- hotspot_statuses: written by the triggers below, read by the reporter.
-- The weekly report shows each hotspot's status as it stood at the end of
-- the week, and a week is generated again months later (a correction, a
-- backfill), when hotspots holds only the status of today. Every status
-- a hotspot takes is recorded with the database's time (now(), as its
-- updated_at), whichever statement sets it: the detector's batches, its
-- ticks. The triggers fire on a status that changes only, not on the
-- count and last complaint every complaint rewrites.
--
-- Nothing recorded a status before: a hotspot's current one is recorded
-- as of its last write (updated_at), since when it has held at least.
-- A week that ended before then has no status on record for it.
CREATE TABLE hotspot_statuses (
    hotspot_id text NOT NULL,
    at         timestamptz NOT NULL,
    id         bigserial,
    status     text NOT NULL,
    PRIMARY KEY (hotspot_id, at, id)
);

-- +goose StatementBegin
CREATE FUNCTION hotspot_status_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hotspot_statuses (hotspot_id, at, status) VALUES (NEW.id, now(), NEW.status);
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER hotspot_status_inserted AFTER INSERT ON hotspots
    FOR EACH ROW EXECUTE FUNCTION hotspot_status_record();
CREATE TRIGGER hotspot_status_changed AFTER UPDATE OF status ON hotspots
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION hotspot_status_record();
-- After the triggers, whose lock holds the hotspots' writers for this
-- moment (a few thousand rows a year): no change falls in between.
INSERT INTO hotspot_statuses (hotspot_id, at, status) SELECT id, updated_at, status FROM hotspots;

-- +goose Down
DROP TRIGGER hotspot_status_changed ON hotspots;
DROP TRIGGER hotspot_status_inserted ON hotspots;
DROP FUNCTION hotspot_status_record();
DROP TABLE hotspot_statuses;
