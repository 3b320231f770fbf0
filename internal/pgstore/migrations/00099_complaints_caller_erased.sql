-- +goose Up
-- Whether the retention job found a caller to erase when it swept the
-- complaint (pii_erased_at): true, a name or a phone was there and is
-- gone; false, the work order came with none, and the officers are shown
-- no caller, as before the sweep. NULL on a complaint not swept, and on
-- one swept before this column: which of those had a caller is no longer
-- known, and they are shown erased, as they were. No default, so the
-- column is added without rewriting the table.
ALTER TABLE complaints ADD COLUMN IF NOT EXISTS caller_erased boolean;

-- +goose Down
ALTER TABLE complaints DROP COLUMN IF EXISTS caller_erased;
