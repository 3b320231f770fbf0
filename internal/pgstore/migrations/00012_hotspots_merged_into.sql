-- +goose Up
-- When a hotspot is absorbed, the hotspots merged into it before are
-- relabelled to the survivor: find them by an index, not by reading every
-- hotspot.
CREATE INDEX hotspots_merged_into ON hotspots (merged_into) WHERE merged_into IS NOT NULL;

-- +goose Down
DROP INDEX hotspots_merged_into;
