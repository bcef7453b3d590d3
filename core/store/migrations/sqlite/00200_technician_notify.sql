-- +goose Up
-- PostgreSQL announces changes of technicians to the other nodes with a
-- trigger (core/live.TechnicianChannel); a SQLite server is one node,
-- whose engine tells its own cache. Nothing to do here: the version exists
-- so both dialects keep the same set.
SELECT 1;

-- +goose Down
SELECT 1;
