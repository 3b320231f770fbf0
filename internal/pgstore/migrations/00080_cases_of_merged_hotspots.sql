-- +goose Up
-- A case opened for a hotspot that the detector later merged into another
-- kept the absorbed hotspot's id, so no complaint of the merged hotspot
-- could join it and a second case opened at the same place. The router
-- now gives such cases the survivor's id as the merge reaches it; this
-- does the same for the cases of merges before. hotspots.merged_into
-- always names the final survivor.
UPDATE cases k SET hotspot_id = h.merged_into, version = k.version + 1
FROM hotspots h
WHERE k.hotspot_id = h.id AND h.merged_into IS NOT NULL;

-- +goose Down
-- Nothing to undo: the ids the cases held before name hotspots that live
-- on in the ones they were merged into.
