-- SMS opt-in forms (issue 18 item 4).
--
-- contact_destinations.raw keeps a number as the PSA or a person wrote it,
-- before it was read as E.164 in the tenant's region, so that the bulk
-- review can flag numbers written without a country code.
--
-- optin_forms is one form sent to a contact: only the link token's SHA-256
-- is kept; a form is answered once (used_at) and expires.
--
-- sms_optins is a tenant's consent per number, from the form that gave it;
-- an opt-out (sms_optouts, STOP) later than it wins.
--
-- optin_settings is what the MSP allows on the form.

-- +goose Up
ALTER TABLE contact_destinations ADD COLUMN raw TEXT NOT NULL DEFAULT '';

CREATE TABLE optin_forms (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    contact_id      TEXT NOT NULL,
    destination_id  TEXT NOT NULL DEFAULT '',
    phone           TEXT NOT NULL DEFAULT '',
    channel         TEXT NOT NULL,
    sent_to         TEXT NOT NULL,
    token_hash      BLOB NOT NULL UNIQUE,
    created_by      TEXT NOT NULL,
    created_at      INTEGER,
    expires_at      INTEGER,
    used_at         INTEGER,
    consented       INTEGER NOT NULL DEFAULT 0,
    consented_phone TEXT NOT NULL DEFAULT ''
);
CREATE INDEX optin_forms_contact ON optin_forms (tenant_id, contact_id, created_at);

CREATE TABLE sms_optins (
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    phone        TEXT NOT NULL,
    contact_id   TEXT NOT NULL,
    form_id      TEXT NOT NULL,
    consented_at INTEGER,
    PRIMARY KEY (tenant_id, phone)
);

CREATE TABLE optin_settings (
    tenant_id        TEXT PRIMARY KEY REFERENCES tenants (id),
    allow_correction INTEGER NOT NULL DEFAULT 0,
    updated_at       INTEGER,
    updated_by       TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE optin_settings;
DROP TABLE sms_optins;
DROP TABLE optin_forms;
ALTER TABLE contact_destinations DROP COLUMN raw;
