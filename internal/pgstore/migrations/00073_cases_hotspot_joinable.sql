-- +goose Up
-- The router looks for the case a complaint of a hotspot may join by the
-- hotspot, district and category. With only cases_hotspot_latest for the
-- hotspot, the planner intersected it with cases_district_opened, reading
-- every case of the district for each such complaint, so the look-up grew
-- with the district's cases. This index answers it alone.
CREATE INDEX cases_hotspot_joinable ON cases (hotspot_id, district, category) WHERE hotspot_id IS NOT NULL;

-- +goose Down
DROP INDEX cases_hotspot_joinable;
