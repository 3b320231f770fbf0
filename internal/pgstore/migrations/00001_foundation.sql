-- +goose Up
-- complaints: owned by intake. One row per hotline work order, forever.
CREATE TABLE complaints (
    id               text PRIMARY KEY,
    ticket_id        text NOT NULL UNIQUE,
    webhook_id       text,
    received_at      timestamptz NOT NULL,
    description      text NOT NULL,
    category         text,
    subcategory      text,
    hotline_category text,
    address          text,
    loc_lon          double precision,
    loc_lat          double precision,
    loc_crs          text,
    caller_name      text,
    caller_phone     text,
    channel          text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX complaints_webhook_id ON complaints (webhook_id) WHERE webhook_id IS NOT NULL;
CREATE INDEX complaints_received_at ON complaints (received_at);
CREATE INDEX complaints_created_at ON complaints (created_at);

-- outbox: every event is written here in the transaction of its effect and
-- published by the relay with Nats-Msg-Id = event_id.
CREATE TABLE outbox (
    seq        bigserial PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    subject    text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    republished int NOT NULL DEFAULT 0
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- processed_events: the idempotency record of every consumer, written in
-- the same transaction as the consumer's effect.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- dead_letters: messages a consumer gave up on, kept with the reason.
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    consumer    text NOT NULL,
    subject     text NOT NULL,
    event_id    text,
    msg_id      text,
    deliveries  int NOT NULL,
    reason      text NOT NULL,
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (consumer, msg_id)
);

-- +goose Down
DROP TABLE dead_letters;
DROP TABLE processed_events;
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
DROP TABLE outbox;
DROP TABLE complaints;
