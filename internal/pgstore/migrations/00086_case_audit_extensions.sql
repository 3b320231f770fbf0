-- +goose Up
-- The router asks, of every case a complaint may join, whether its resolve
-- deadline is one an extension (延期) granted: through the extensions
-- alone, not every audit entry of a busy case.
CREATE INDEX case_audit_extensions ON case_audit (case_id, due_after) WHERE action = 'extend';

-- +goose Down
DROP INDEX case_audit_extensions;
