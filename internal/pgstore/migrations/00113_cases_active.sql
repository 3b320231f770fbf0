-- +goose NO TRANSACTION
-- +goose Up
-- The cases still to be acted on, for the officers' lists by what needs
-- action (an admin's, which no team or district narrows): they are a few
-- hundred among a city's years of ended cases, which the action order
-- would otherwise read and sort at every page. Built CONCURRENTLY: the
-- router and the officers write cases at any time. Dropped first: a
-- build that gave up on a lock leaves an invalid index behind.
DROP INDEX CONCURRENTLY IF EXISTS cases_active;
CREATE INDEX CONCURRENTLY cases_active ON cases (status) WHERE status IN ('open', 'assigned', 'accepted', 'returned');

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS cases_active;
