-- Notification groups (issue 18 item 5): named groups of people to tell
-- about events (technician verification requests, "This is not me",
-- failed verifications), each person a copy with their own ways of being
-- reached and on-call schedule rules (JSON), and the tenant's time zone the
-- rules are read in.

-- +goose Up
CREATE TABLE notify_groups (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    events     TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER,
    updated_at INTEGER,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE notify_users (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL DEFAULT '',
    sms        TEXT NOT NULL DEFAULT '',
    voice      TEXT NOT NULL DEFAULT '',
    by_email   INTEGER NOT NULL DEFAULT 0,
    by_sms     INTEGER NOT NULL DEFAULT 0,
    by_voice   INTEGER NOT NULL DEFAULT 0,
    source     TEXT NOT NULL DEFAULT 'manual',
    schedule   TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER,
    updated_at INTEGER,
    FOREIGN KEY (tenant_id, group_id) REFERENCES notify_groups (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX notify_users_group ON notify_users (tenant_id, group_id, name);

CREATE TABLE notify_settings (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id),
    time_zone TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE notify_settings;
DROP TABLE notify_users;
DROP TABLE notify_groups;
