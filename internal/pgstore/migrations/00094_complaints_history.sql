-- +goose Up
-- A work order loaded as history (nuisance replay -history, POST
-- /v1/hotline/history) was handled before this system knew of it: it is
-- located and clustered, for the hotspots and the weekly reports, but the
-- router opens no case for it and the hotline is never called back; the
-- hotline's look-up answers it closed. The default is a constant, so the
-- column is added without rewriting the table.
ALTER TABLE complaints ADD COLUMN history boolean NOT NULL DEFAULT false;

CREATE OR REPLACE VIEW complaint_lookup AS
SELECT c.ticket_id,
       c.id AS complaint_id,
       CASE
           WHEN c.history THEN 'closed'
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
ALTER TABLE complaints DROP COLUMN history;
