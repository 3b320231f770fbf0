-- +goose Up
-- complaint_lookup: the work order as the pipeline knows it, read by the
-- hotline status look-up. Later stages replace this view as they add
-- their tables.
CREATE VIEW complaint_lookup AS
SELECT c.ticket_id,
       c.id AS complaint_id,
       'received'::text AS status,
       c.category,
       c.subcategory,
       NULL::text AS district,
       NULL::text AS district_name,
       NULL::boolean AS priority,
       NULL::text AS hotspot_id,
       NULL::text AS case_id,
       NULL::text AS team,
       NULL::timestamptz AS due_at,
       c.created_at AS updated_at
FROM complaints c;

-- +goose Down
DROP VIEW complaint_lookup;
