-- Microsoft 365 admin consent (issue 19.2): the "connect tenant" pop-out
-- sends the customer's admin to Microsoft with a state nonce; only its
-- SHA-256 is kept, for the admin who started it, until it is used once or
-- expires. The answer (the consenting tenant's id, or Microsoft's error)
-- is kept with it.

-- +goose Up
CREATE TABLE microsoft_consents (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    state_hash    BYTEA NOT NULL,
    client_id     TEXT NOT NULL,
    actor         TEXT NOT NULL,
    app_client_id TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ,
    entra_tenant  TEXT NOT NULL DEFAULT '',
    result        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, state_hash)
);

-- +goose Down
DROP TABLE microsoft_consents;
