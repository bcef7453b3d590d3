-- Password-expiry and lock-out notices (issue 17.5): one row per directory
-- user and UTC day (YYYY-MM-DD) a notice was queued, claimed in the
-- transaction that queues it, so every node and every restart sends each
-- user's notice of a day once. Rows older than a month are dropped.

-- +goose Up
CREATE TABLE directory_notices (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    guid      TEXT NOT NULL,
    day       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    queued_at INTEGER,
    PRIMARY KEY (tenant_id, client_id, guid, day)
);

-- +goose Down
DROP TABLE directory_notices;
