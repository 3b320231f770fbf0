-- +goose Up
-- An inbox page is a team's (or a district's) cases newest first: read
-- in index order and stop after a page, instead of sorting all of them.
-- A case's team is its active assignment's whenever it has one, so the
-- officers' query narrows by cases.team and checks the assignment too.
CREATE INDEX cases_team_opened ON cases (team, opened_at DESC, id DESC);
CREATE INDEX cases_district_opened ON cases (district, opened_at DESC, id DESC);
-- cases_opened (00010) serves the admins' list in the same order.
DROP INDEX cases_opened_id;

-- +goose Down
CREATE INDEX cases_opened_id ON cases (opened_at DESC, id DESC);
DROP INDEX cases_district_opened;
DROP INDEX cases_team_opened;
