-- +goose Up
-- The router finds a place's case by place key or by a bounding box
-- around the complaint, within its district and category.
CREATE INDEX cases_place_key ON cases (district, category, place_key) WHERE place_key IS NOT NULL;
CREATE INDEX cases_place_box ON cases (district, category, lat, lon) WHERE lat IS NOT NULL;

-- +goose Down
DROP INDEX cases_place_box;
DROP INDEX cases_place_key;
