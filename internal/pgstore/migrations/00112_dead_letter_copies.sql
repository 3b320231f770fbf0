-- +goose Up
-- Every copy of a dead letter on the DLQ stream, by the sequence
-- JetStream acknowledged its publication with and the creation of the
-- stream that numbered it (NULL: not recorded, see 00111), for the
-- retention job to delete each once the dead letter is older than
-- NUISANCE_PII_RETENTION. A message dead-lettered again past the
-- stream's duplicate window (2 minutes: its termination lost, it came
-- back) is copied again under a sequence of its own; dead_letters.dlq_seq
-- kept the last copy alone, and the first stayed the stream's 30 days.
-- created_at is when the copy was recorded: a copy past the stream's
-- MaxAge is gone. A row goes once its copy is deleted or gone.
CREATE TABLE dead_letter_copies (
    dead_letter_id bigint NOT NULL REFERENCES dead_letters (id) ON DELETE CASCADE,
    seq            bigint NOT NULL,
    stream_created timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dead_letter_id, seq)
);

-- A consumer older than this one, still running during a rollout,
-- records its copy in dlq_seq: the database moves it here as it is
-- written. The trigger's lock holds those writers while the sequences
-- recorded so far move; none falls in between.
-- +goose StatementBegin
CREATE FUNCTION dead_letter_copy_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dead_letter_copies (dead_letter_id, seq, stream_created) VALUES (NEW.id, NEW.dlq_seq, NEW.dlq_stream_created)
    ON CONFLICT (dead_letter_id, seq) DO UPDATE SET stream_created = EXCLUDED.stream_created, created_at = now()
    WHERE dead_letter_copies.stream_created IS DISTINCT FROM EXCLUDED.stream_created;
    NEW.dlq_seq := NULL;
    NEW.dlq_stream_created := NULL;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER dead_letter_copy_moved BEFORE UPDATE OF dlq_seq ON dead_letters
    FOR EACH ROW WHEN (NEW.dlq_seq IS NOT NULL) EXECUTE FUNCTION dead_letter_copy_moved();
INSERT INTO dead_letter_copies (dead_letter_id, seq, stream_created, created_at)
SELECT id, dlq_seq, dlq_stream_created, created_at FROM dead_letters WHERE dlq_seq IS NOT NULL;
UPDATE dead_letters SET dlq_seq = NULL, dlq_stream_created = NULL WHERE dlq_seq IS NOT NULL OR dlq_stream_created IS NOT NULL;

-- +goose Down
DROP TRIGGER dead_letter_copy_moved ON dead_letters;
DROP FUNCTION dead_letter_copy_moved();
UPDATE dead_letters d SET dlq_seq = k.seq, dlq_stream_created = k.stream_created
FROM (SELECT DISTINCT ON (dead_letter_id) dead_letter_id, seq, stream_created FROM dead_letter_copies
      ORDER BY dead_letter_id, created_at DESC, seq DESC) k
WHERE d.id = k.dead_letter_id;
DROP TABLE dead_letter_copies;
