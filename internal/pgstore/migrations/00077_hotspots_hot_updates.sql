-- +goose Up
-- Every complaint at a hotspot rewrites its row (count, last time,
-- centre). With an index on last_at, no such update could stay on its
-- page (HOT): each wrote an entry into every index of the table and left
-- a dead version behind for the detector's and the router's look-ups to
-- step over. The index's one reader is the hotspots list, which sorts the
-- city's hotspots instead (a few thousand a year). The free tenth of each
-- page leaves room for the new version of a row beside the old.
DROP INDEX hotspots_last_at;
ALTER TABLE hotspots SET (fillfactor = 90);

-- +goose Down
ALTER TABLE hotspots RESET (fillfactor);
CREATE INDEX hotspots_last_at ON hotspots (last_at);
