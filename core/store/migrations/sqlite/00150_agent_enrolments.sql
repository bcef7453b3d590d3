-- Agent enrolments (issue 16, bindings (a) and (b)): a Windows user of a
-- device asking to be bound to a contact of the device's client, by logging
-- a first ticket (confirmed through an e-mailed link) or by registering
-- (an e-mailed password typed into the tray). Only the secret's SHA-256 is
-- kept. contact_id is "" while the contact is still to be created in the
-- PSA (the e-mail's domain is the client's usual one).

-- +goose Up
CREATE TABLE agent_enrolments (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    sid          TEXT NOT NULL,
    how          TEXT NOT NULL,
    state        TEXT NOT NULL,
    first_name   TEXT NOT NULL DEFAULT '',
    last_name    TEXT NOT NULL DEFAULT '',
    email        TEXT NOT NULL,
    contact_id   TEXT NOT NULL DEFAULT '',
    integration_id TEXT NOT NULL DEFAULT '',
    summary      TEXT NOT NULL DEFAULT '',
    details      TEXT NOT NULL DEFAULT '',
    secret_hash  BLOB NOT NULL UNIQUE,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER,
    expires_at   INTEGER,
    done_at      INTEGER,
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX agent_enrolments_user ON agent_enrolments (tenant_id, client_id, sid, state);

-- +goose Down
DROP TABLE agent_enrolments;
