-- +goose Up
-- triage_corrections: owned by the officers service. Every correction a
-- supervisor makes from the triage list, with who made it; n counts a
-- complaint's corrections and names its triage.corrected event
-- (<complaint_id>.triage.corrected.<n>), so the audit row and the event
-- commit together and a replayed relay publishes the same id.
CREATE TABLE triage_corrections (
    complaint_id text NOT NULL REFERENCES complaints (id),
    n            int NOT NULL,
    officer_id   text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL,
    district     text NOT NULL,
    subdistrict  text,
    lon          double precision, -- WGS-84
    lat          double precision,
    category     text NOT NULL,
    subcategory  text NOT NULL,
    event_id     text NOT NULL UNIQUE,
    PRIMARY KEY (complaint_id, n)
);
CREATE INDEX triage_corrections_officer ON triage_corrections (officer_id, at);

-- An officer's inbox is the cases its team holds the active assignment of.
CREATE INDEX assignments_active_team ON assignments (team, case_id) WHERE status = 'active';
-- The assignment list pages newest case first.
CREATE INDEX cases_opened_id ON cases (opened_at DESC, id DESC);
CREATE INDEX officers_team ON officers (team);

-- +goose Down
DROP INDEX officers_team;
DROP INDEX cases_opened_id;
DROP INDEX assignments_active_team;
DROP TABLE triage_corrections;
