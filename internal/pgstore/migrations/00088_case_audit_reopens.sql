-- +goose Up
-- The weekly report reads the cases reopened after its week, whose
-- resolve deadline and resolution the reopen replaced, through the
-- reopens alone.
CREATE INDEX case_audit_reopens ON case_audit (at) WHERE action = 'reopen';

-- +goose Down
DROP INDEX case_audit_reopens;
