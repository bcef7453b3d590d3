-- Self-serve password reset (issue 17.3): the tenant-wide switch and the
-- import-time choice, and each directory user's own switch and status
-- (registration_complete, accessed_self_serve). A user's switch goes with
-- the user.

-- +goose Up
CREATE TABLE directory_settings (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled      BOOLEAN NOT NULL DEFAULT FALSE,
    new_users_on BOOLEAN NOT NULL DEFAULT FALSE,
    updated_by   TEXT NOT NULL DEFAULT '',
    updated_at   TIMESTAMPTZ
);

CREATE TABLE directory_selfserve (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    guid       TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    status     TEXT NOT NULL DEFAULT '',
    changed_by TEXT NOT NULL DEFAULT '',
    changed_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, client_id, guid),
    FOREIGN KEY (tenant_id, client_id, guid) REFERENCES directory_users (tenant_id, client_id, guid) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE directory_selfserve;
DROP TABLE directory_settings;
