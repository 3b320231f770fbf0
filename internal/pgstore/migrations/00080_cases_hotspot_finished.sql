-- +goose Up
-- The weekly report lists each hotspot's cases that were open during the
-- week: those not finished (resolved or closed) and those finished since
-- the week's start. This index finds both without reading the hotspot's
-- older, finished cases.
CREATE INDEX cases_hotspot_finished ON cases (hotspot_id, (COALESCE(resolved_at, closed_at))) WHERE hotspot_id IS NOT NULL;

-- +goose Down
DROP INDEX cases_hotspot_finished;
