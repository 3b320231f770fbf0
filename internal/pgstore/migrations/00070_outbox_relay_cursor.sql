-- +goose Up
-- The relay reads unsent rows in the order of their writing transaction
-- from a cursor it keeps in outbox_relays, through an index that marking
-- a row sent does not touch: the mark becomes an in-page (HOT) update,
-- for which the pages keep room.
ALTER TABLE outbox ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX outbox_relay_order ON outbox (xid, seq);
DROP INDEX outbox_unsent;
ALTER TABLE outbox SET (fillfactor = 50);

-- One row per relay (named by the subjects it relays): every unsent row of
-- a transaction older than xid has been published.
CREATE TABLE outbox_relays (
    name       text PRIMARY KEY,
    xid        xid8 NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE outbox_relays;
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
DROP INDEX outbox_relay_order;
ALTER TABLE outbox DROP COLUMN xid;
ALTER TABLE outbox RESET (fillfactor);
