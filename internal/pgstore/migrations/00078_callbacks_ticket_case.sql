-- +goose Up
-- The only reader of callbacks_case_ticket is the merge's check that a
-- work order has no callback of its case yet, which names both columns.
-- Led by the case, the index kept every callback of a busy place's case
-- side by side, stored over months, and each delivery (an update that is
-- never HOT) added an entry among them. Led by the work order, a leaf
-- holds work orders received together. In a 300,000-complaint replay the
-- index is 39 MB instead of 48 MB and read 8,137 blocks from outside the
-- shared buffers instead of 27,957.
CREATE INDEX callbacks_ticket_case ON callbacks (ticket_id, case_id);
DROP INDEX callbacks_case_ticket;

-- +goose Down
CREATE INDEX callbacks_case_ticket ON callbacks (case_id, ticket_id);
DROP INDEX callbacks_ticket_case;
