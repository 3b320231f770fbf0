-- +goose Up
-- The weekly report reads a week's located complaints, and eight weeks of
-- them for the Gi* analysis, from this index alone, and each hotspot's
-- latest case from the second without sorting its cases.
CREATE INDEX locations_received_cover ON locations (received_at) INCLUDE (located, category, district, lon, lat);
CREATE INDEX cases_hotspot_latest ON cases (hotspot_id, opened_at DESC, id DESC) WHERE hotspot_id IS NOT NULL;

-- +goose Down
DROP INDEX cases_hotspot_latest;
DROP INDEX locations_received_cover;
