-- +goose Up
-- The pipeline's tables. Each has one owning service, named above it;
-- other services only read them (the hotline look-up, officers, reports).

-- locations: owned by the geocoder. One row per complaint it has seen,
-- located or not; the classification rides along.
CREATE TABLE locations (
    complaint_id       text PRIMARY KEY REFERENCES complaints (id),
    located            boolean NOT NULL,
    district           text,            -- slug
    district_name      text,
    subdistrict        text,
    subdistrict_approx boolean NOT NULL DEFAULT false,
    lon                double precision, -- WGS-84
    lat                double precision,
    method             text,            -- coordinates|address_district|address_subdistrict|address_place|snapped
    confidence         double precision,
    place              text,
    place_key          text,
    disagreement       text,            -- coordinates and address name different districts
    category           text,            -- noise|dust|cooking_smoke; null: unclassified
    subcategory        text,
    classify_method    text,
    also_mentioned     text[] NOT NULL DEFAULT '{}',
    priority           boolean NOT NULL DEFAULT false,
    urgent             boolean NOT NULL DEFAULT false,
    received_at        timestamptz NOT NULL,
    located_at         timestamptz NOT NULL DEFAULT now(),
    corrected_by       text             -- officer id when a supervisor corrected it from triage
);
CREATE INDEX locations_district_received ON locations (district, received_at);
CREATE INDEX locations_received ON locations (received_at);

-- triage: owned by the geocoder. Complaints that could not be located or
-- classified, until a supervisor corrects them.
CREATE TABLE triage (
    complaint_id text PRIMARY KEY REFERENCES complaints (id),
    reason       text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('unlocated', 'unclassified', 'unrouted')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    resolved_by  text
);
CREATE INDEX triage_open ON triage (created_at) WHERE resolved_at IS NULL;

-- hotspots, hotspot_members: owned by the hotspots service.
CREATE TABLE hotspots (
    id              text PRIMARY KEY,
    category        text NOT NULL,
    subcategory     text,
    district        text NOT NULL,
    subdistrict     text,
    status          text NOT NULL CHECK (status IN ('emerging', 'active', 'escalated', 'cooling', 'closed', 'merged')),
    complaint_count int NOT NULL,
    first_at        timestamptz NOT NULL,
    last_at         timestamptz NOT NULL,
    lon             double precision,
    lat             double precision,
    place           text,
    place_key       text,
    merged_into     text,
    resolved_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hotspots_district_status ON hotspots (district, status);
CREATE INDEX hotspots_last_at ON hotspots (last_at);

CREATE TABLE hotspot_members (
    complaint_id text PRIMARY KEY REFERENCES complaints (id),
    hotspot_id   text REFERENCES hotspots (id),
    category     text NOT NULL,
    subcategory  text,
    district     text NOT NULL,
    lon          double precision,
    lat          double precision,
    place_key    text,
    at           timestamptz NOT NULL
);
CREATE INDEX hotspot_members_space_time ON hotspot_members (category, lat, lon, at);
CREATE INDEX hotspot_members_place ON hotspot_members (category, place_key, at) WHERE place_key IS NOT NULL;
CREATE INDEX hotspot_members_hotspot ON hotspot_members (hotspot_id) WHERE hotspot_id IS NOT NULL;
CREATE INDEX hotspot_members_at ON hotspot_members (at);

-- cases, case_complaints, assignments, case_audit, case_timers: owned by
-- the case workflow (router and officers act on them through
-- internal/caseflow only).
CREATE TABLE cases (
    id            text PRIMARY KEY,
    category      text NOT NULL,
    subcategory   text,
    district      text NOT NULL,
    subdistrict   text,
    team          text,
    status        text NOT NULL CHECK (status IN ('open', 'assigned', 'accepted', 'resolved', 'returned', 'closed')),
    priority      text NOT NULL DEFAULT 'normal' CHECK (priority IN ('urgent', 'priority', 'normal')),
    mode          text NOT NULL DEFAULT 'on_site' CHECK (mode IN ('on_site', 'non_site')),
    hotspot_id    text,
    lon           double precision,
    lat           double precision,
    place         text,
    place_key     text,
    quiet_community text,
    positive_list text,
    escalated     boolean NOT NULL DEFAULT false,
    reopened      int NOT NULL DEFAULT 0,
    outcome       text CHECK (outcome IN ('rectified', 'no_violation', 'penalized', 'referred')),
    note          text,
    opened_at     timestamptz NOT NULL,
    sign_due      timestamptz,
    resolve_due   timestamptz,
    accepted_at   timestamptz,
    resolved_at   timestamptz,
    closed_at     timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_open_place ON cases (category, team, status);
CREATE INDEX cases_hotspot ON cases (hotspot_id) WHERE hotspot_id IS NOT NULL;
CREATE INDEX cases_team_status ON cases (team, status);
CREATE INDEX cases_district_status ON cases (district, status);
CREATE INDEX cases_opened ON cases (opened_at);

CREATE TABLE case_complaints (
    complaint_id text PRIMARY KEY REFERENCES complaints (id),
    case_id      text NOT NULL REFERENCES cases (id),
    joined_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_complaints_case ON case_complaints (case_id);

CREATE TABLE assignments (
    id          bigserial PRIMARY KEY,
    case_id     text NOT NULL REFERENCES cases (id),
    team        text NOT NULL,
    mode        text NOT NULL DEFAULT 'on_site',
    status      text NOT NULL CHECK (status IN ('active', 'returned', 'reassigned', 'done')),
    assigned_at timestamptz NOT NULL DEFAULT now(),
    sign_due    timestamptz,
    resolve_due timestamptz,
    accepted_at timestamptz,
    ended_at    timestamptz,
    reason      text
);
-- At most one active assignment per case, whatever the concurrency.
CREATE UNIQUE INDEX assignments_one_active ON assignments (case_id) WHERE status = 'active';
CREATE INDEX assignments_team ON assignments (team, status);

CREATE TABLE case_audit (
    id          bigserial PRIMARY KEY,
    case_id     text NOT NULL REFERENCES cases (id),
    actor       text NOT NULL,   -- service:<name> or officer:<id>
    at          timestamptz NOT NULL DEFAULT now(),
    from_status text,
    to_status   text NOT NULL,
    action      text NOT NULL,
    reason      text
);
CREATE INDEX case_audit_case ON case_audit (case_id, id);

CREATE TABLE case_timers (
    case_id  text NOT NULL REFERENCES cases (id),
    kind     text NOT NULL CHECK (kind IN ('sign', 'resolve')),
    due_at   timestamptz NOT NULL,
    fired_at timestamptz,
    PRIMARY KEY (case_id, kind, due_at)
);
CREATE INDEX case_timers_pending ON case_timers (due_at) WHERE fired_at IS NULL;

-- callbacks: owned by the callbacks service. One row per delivery to the
-- hotline; id is the stable webhook-id.
CREATE TABLE callbacks (
    id           text PRIMARY KEY,
    ticket_id    text NOT NULL,
    case_id      text NOT NULL,
    status       text NOT NULL,
    team         text,
    note         text,
    at           timestamptz NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    dead_at      timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX callbacks_due ON callbacks (next_at) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX callbacks_ticket ON callbacks (ticket_id);

-- officers: owned by the officers service. Tokens are stored as hashes.
CREATE TABLE officers (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    team        text,
    district    text,
    role        text NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    rotated_at  timestamptz,
    disabled_at timestamptz
);

-- weekly_reports: owned by the reporter.
CREATE TABLE weekly_reports (
    week         text PRIMARY KEY, -- 2024-W11
    generated_at timestamptz NOT NULL DEFAULT now(),
    total        int NOT NULL,
    json         jsonb NOT NULL,
    html         text NOT NULL,
    csv          text NOT NULL,
    geojson      text NOT NULL
);

-- The hotline look-up now follows a complaint through every stage.
CREATE OR REPLACE VIEW complaint_lookup AS
SELECT c.ticket_id,
       c.id AS complaint_id,
       CASE
           WHEN k.status IS NOT NULL AND k.status <> 'open' THEN k.status
           WHEN l.located IS TRUE AND l.category IS NOT NULL THEN 'located'
           WHEN l.complaint_id IS NOT NULL THEN 'unlocated'
           ELSE 'received'
       END AS status,
       COALESCE(l.category, c.category) AS category,
       COALESCE(l.subcategory, c.subcategory) AS subcategory,
       l.district,
       l.district_name,
       l.priority,
       m.hotspot_id,
       cc.case_id,
       k.team,
       k.resolve_due AS due_at,
       GREATEST(c.created_at, l.located_at, k.updated_at) AS updated_at
FROM complaints c
LEFT JOIN locations l ON l.complaint_id = c.id
LEFT JOIN hotspot_members m ON m.complaint_id = c.id
LEFT JOIN case_complaints cc ON cc.complaint_id = c.id
LEFT JOIN cases k ON k.id = cc.case_id;

-- +goose Down
CREATE OR REPLACE VIEW complaint_lookup AS
SELECT c.ticket_id, c.id AS complaint_id, 'received'::text AS status, c.category, c.subcategory,
       NULL::text AS district, NULL::text AS district_name, NULL::boolean AS priority, NULL::text AS hotspot_id,
       NULL::text AS case_id, NULL::text AS team, NULL::timestamptz AS due_at, c.created_at AS updated_at
FROM complaints c;
DROP TABLE weekly_reports, officers, callbacks, case_timers, case_audit, assignments, case_complaints, cases,
    hotspot_members, hotspots, triage, locations;
