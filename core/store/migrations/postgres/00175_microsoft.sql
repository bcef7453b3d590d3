-- Microsoft Authenticator push (issue 19): a client's connected Microsoft
-- 365 tenant (one per client; the app's and the MFA connector's secrets
-- sealed as one value; push_enabled is the connection's kill switch) and
-- the users imported from it, with whether Microsoft Authenticator is
-- registered and the contact each is matched to ('' none).

-- +goose Up
CREATE TABLE microsoft_connections (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    client_id    TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    entra_tenant TEXT NOT NULL,
    push_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    sealed       BYTEA NOT NULL,
    checked_at   TIMESTAMPTZ,
    check_result TEXT NOT NULL DEFAULT '',
    imported_at  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ,
    UNIQUE (tenant_id, client_id),
    UNIQUE (tenant_id, id)
);

CREATE TABLE microsoft_users (
    tenant_id     TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    object_id     TEXT NOT NULL,
    upn           TEXT NOT NULL,
    mail          TEXT NOT NULL DEFAULT '',
    mobile        TEXT NOT NULL DEFAULT '',
    display_name  TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL DEFAULT '',
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    authenticator BOOLEAN NOT NULL DEFAULT FALSE,
    methods       TEXT NOT NULL DEFAULT '',
    contact_id    TEXT NOT NULL DEFAULT '',
    matched_by    TEXT NOT NULL DEFAULT '',
    imported_at   TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, connection_id, object_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES microsoft_connections (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX microsoft_users_contact ON microsoft_users (tenant_id, connection_id, contact_id);

-- +goose Down
DROP TABLE microsoft_users;
DROP TABLE microsoft_connections;
