-- +goose Up
-- A triage entry's own mark (triage.history) says alone which side of the
-- supervisors' list it waits on, so that each side is read down an index
-- of its own (00101). An entry of a complaint stored as history is
-- marked by the database as it is written, whoever writes it: a
-- geocoder older than 00096, which still runs during a rollout from
-- before it and writes no mark, or any other writer. A complaint's mark
-- is set when it is stored and never changes, and its entry comes after
-- it. The entries left unmarked until now (those the older geocoders
-- wrote after 00096 marked the others) are marked after the trigger,
-- whose lock holds triage's writers for this moment: none falls in
-- between. A geocoder that marks the entry itself skips the look-up.
-- +goose StatementBegin
CREATE FUNCTION triage_history_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.history := EXISTS (SELECT 1 FROM complaints c WHERE c.id = NEW.complaint_id AND c.history);
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER triage_history_marked BEFORE INSERT ON triage
    FOR EACH ROW WHEN (NOT NEW.history) EXECUTE FUNCTION triage_history_mark();
UPDATE triage t SET history = true FROM complaints c
WHERE c.id = t.complaint_id AND c.history AND NOT t.history AND t.resolved_at IS NULL;

-- +goose Down
DROP TRIGGER triage_history_marked ON triage;
DROP FUNCTION triage_history_mark();
