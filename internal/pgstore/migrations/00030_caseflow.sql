-- +goose Up
-- cases.version counts a case's transitions; case event ids carry it so a
-- replayed transition produces the same event id.
ALTER TABLE cases ADD COLUMN version int NOT NULL DEFAULT 0;

-- Finding the open case of a place: by hotspot, by place key, by distance.
CREATE INDEX cases_live_place_key ON cases (team, category, place_key)
    WHERE place_key IS NOT NULL AND status IN ('open', 'assigned', 'accepted', 'returned');
CREATE INDEX cases_resolved_at ON cases (resolved_at) WHERE status = 'resolved';
CREATE INDEX assignments_case ON assignments (case_id, status);

-- +goose Down
DROP INDEX assignments_case;
DROP INDEX cases_resolved_at;
DROP INDEX cases_live_place_key;
ALTER TABLE cases DROP COLUMN version;
