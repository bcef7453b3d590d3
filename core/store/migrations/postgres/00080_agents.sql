-- Windows agents (issue 16): per-client activation keys, activated devices
-- with a hashed per-device credential, the Windows users seen on them, the
-- bindings of SIDs to PSA contacts, and tasks waiting for a device's
-- long-poll (workstation prompts, notifications).

-- +goose Up
CREATE TABLE activation_keys (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    client_id  TEXT NOT NULL,
    key_hash   BYTEA NOT NULL UNIQUE,
    key_sealed BYTEA NOT NULL,
    created_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, client_id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    client_id       TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    os              TEXT NOT NULL DEFAULT '',
    domain          TEXT NOT NULL DEFAULT '',
    agent_version   TEXT NOT NULL DEFAULT '',
    credential_hash BYTEA NOT NULL,
    created_at      TIMESTAMPTZ,
    last_seen_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
);
CREATE INDEX devices_client ON devices (tenant_id, client_id, name);

CREATE TABLE device_users (
    tenant_id    TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    sid          TEXT NOT NULL,
    account      TEXT NOT NULL DEFAULT '',
    upn          TEXT NOT NULL DEFAULT '',
    display_name TEXT NOT NULL DEFAULT '',
    local        BOOLEAN NOT NULL DEFAULT FALSE,
    logged_on    BOOLEAN NOT NULL DEFAULT FALSE,
    seen_at      TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, device_id, sid),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX device_users_sid ON device_users (tenant_id, sid);

CREATE TABLE bindings (
    tenant_id    TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    sid          TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    how          TEXT NOT NULL,
    state        TEXT NOT NULL,
    made_by      TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ,
    confirmed_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, client_id, sid),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX bindings_contact ON bindings (tenant_id, contact_id);

CREATE TABLE agent_tasks (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    sid          TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    created_at   TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_tasks_pending ON agent_tasks (tenant_id, device_id, delivered_at);

-- +goose Down
DROP TABLE agent_tasks;
DROP TABLE bindings;
DROP TABLE device_users;
DROP TABLE devices;
DROP TABLE activation_keys;
