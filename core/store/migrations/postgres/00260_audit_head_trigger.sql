-- +goose Up
-- SQLite advances the audit head with a trigger on the event's insert, so
-- that an append is one statement there (issue 11 item 2). PostgreSQL's
-- append already is one: the head's conditional advance and the insert are
-- data-modifying CTEs of one statement (core/store/audit.go). Nothing to do
-- here: the version exists so both dialects keep the same set.
SELECT 1;

-- +goose Down
SELECT 1;
