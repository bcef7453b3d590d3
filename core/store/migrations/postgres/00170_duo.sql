-- Duo push (issue 19): Duo Auth API accounts of a tenant (client_id '' is
-- the tenant's default; a client may have its own), their keys sealed as
-- one value, and which Duo username each contact is under an account.

-- +goose Up
CREATE TABLE duo_accounts (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    client_id     TEXT NOT NULL DEFAULT '',
    name          TEXT NOT NULL DEFAULT '',
    verified_push BOOLEAN NOT NULL DEFAULT FALSE,
    sealed        BYTEA NOT NULL,
    checked_at    TIMESTAMPTZ,
    check_result  TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ,
    UNIQUE (tenant_id, client_id),
    UNIQUE (tenant_id, id)
);

CREATE TABLE duo_users (
    tenant_id  TEXT NOT NULL,
    account_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    username   TEXT NOT NULL,
    matched_by TEXT NOT NULL DEFAULT '',
    updated_by TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, account_id, contact_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES duo_accounts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id)
);

-- +goose Down
DROP TABLE duo_users;
DROP TABLE duo_accounts;
