-- +goose Up
-- Each of these is a prefix of another index with the same predicate,
-- which serves every query it served: locations_received of
-- locations_received_cover, cases_hotspot of cases_hotspot_latest. Every
-- located complaint and every new case paid for one more index entry.
DROP INDEX locations_received;
DROP INDEX cases_hotspot;

-- +goose Down
CREATE INDEX cases_hotspot ON cases (hotspot_id) WHERE hotspot_id IS NOT NULL;
CREATE INDEX locations_received ON locations (received_at);
