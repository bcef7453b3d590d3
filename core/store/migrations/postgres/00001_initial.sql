-- Initial schema, PostgreSQL flavour. Keep in step with ../sqlite/00001_initial.sql.
--
-- Times are TIMESTAMPTZ (NULL for the zero time), JSON is TEXT so the bytes
-- stay as written. Child tables reference (tenant_id, id) of their parent, so
-- a row can only ever point at a row of its own tenant.

-- +goose Up
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    country    TEXT NOT NULL DEFAULT '',
    branding   TEXT NOT NULL DEFAULT '{}',
    sms_from   TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ,
    -- Head of the tenant's audit chain, advanced in the same transaction as
    -- each append, so deleting the newest audit rows is detectable.
    audit_seq  BIGINT NOT NULL DEFAULT 0,
    audit_hash BYTEA
);

CREATE TABLE clients (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    psa_kind   TEXT NOT NULL DEFAULT '',
    psa_ref    TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ,
    UNIQUE (tenant_id, id)
);

CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    client_id  TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name  TEXT NOT NULL DEFAULT '',
    title      TEXT NOT NULL DEFAULT '',
    psa_ref    TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id)
);
CREATE INDEX contacts_client ON contacts (tenant_id, client_id);

CREATE TABLE contact_destinations (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    -- ord keeps destinations in the order they were added: "first of its
    -- kind" is the fallback default (core.Contact.DefaultDestination).
    ord        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    source     TEXT NOT NULL DEFAULT '',
    set_at     TIMESTAMPTZ,
    set_by     TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id)
);
CREATE INDEX contact_destinations_contact ON contact_destinations (tenant_id, contact_id, ord);
CREATE INDEX contact_destinations_value ON contact_destinations (tenant_id, kind, value);

CREATE TABLE technicians (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    email         TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    totp_secret   BYTEA,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, email)
);

CREATE TABLE policies (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    -- '' is the tenant default, so it cannot reference clients; the store
    -- checks a non-empty client_id belongs to the tenant.
    client_id TEXT NOT NULL DEFAULT '',
    policy    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE verifications (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    client_id       TEXT NOT NULL DEFAULT '',
    contact_id      TEXT NOT NULL,
    destination_id  TEXT NOT NULL DEFAULT '',
    dest_kind       TEXT NOT NULL DEFAULT '',
    destination     TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL,
    ticket_ref      TEXT NOT NULL DEFAULT '',
    technician_id   TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    secret_hash     BYTEA,
    link_token_hash BYTEA,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL DEFAULT 0,
    sends           INTEGER NOT NULL DEFAULT 0,
    note            TEXT NOT NULL DEFAULT '',
    detail          TEXT NOT NULL DEFAULT '',
    delivery_status TEXT NOT NULL DEFAULT '',
    provider_ref    TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    expires_at      TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ,
    verified_until  TIMESTAMPTZ,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id)
);
CREATE UNIQUE INDEX verifications_link ON verifications (tenant_id, link_token_hash) WHERE link_token_hash IS NOT NULL;
CREATE INDEX verifications_provider_ref ON verifications (tenant_id, provider_ref) WHERE provider_ref <> '';
CREATE INDEX verifications_contact ON verifications (tenant_id, contact_id, created_at);

CREATE TABLE verification_sends (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    verification_id TEXT NOT NULL,
    contact_id      TEXT NOT NULL DEFAULT '',
    destination     TEXT NOT NULL DEFAULT '',
    technician_id   TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL DEFAULT '',
    at              TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (tenant_id, verification_id) REFERENCES verifications (tenant_id, id)
);
-- One index per rate limit of security.md §6 (CountSends).
CREATE INDEX verification_sends_contact ON verification_sends (tenant_id, contact_id, at);
CREATE INDEX verification_sends_destination ON verification_sends (tenant_id, destination, at);
CREATE INDEX verification_sends_technician ON verification_sends (tenant_id, technician_id, at);
CREATE INDEX verification_sends_tenant ON verification_sends (tenant_id, at);

CREATE TABLE failure_counters (
    tenant_id  TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    n          INTEGER NOT NULL,
    at         TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, contact_id, kind),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id)
);

CREATE TABLE audit_events (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    seq       BIGINT NOT NULL,
    at        TIMESTAMPTZ,
    actor     TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL DEFAULT '',
    subject   TEXT NOT NULL DEFAULT '',
    -- detail is JSON text exactly as hashed (null for a nil map).
    detail    TEXT NOT NULL DEFAULT 'null',
    prev_hash BYTEA,
    hash      BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_events_action ON audit_events (tenant_id, action, seq);
CREATE INDEX audit_events_subject ON audit_events (tenant_id, subject, seq);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    kind            TEXT NOT NULL,
    verification_id TEXT NOT NULL DEFAULT '',
    sealed          BYTEA,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    provider_ref    TEXT NOT NULL DEFAULT '',
    dev             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ,
    done_at         TIMESTAMPTZ,
    UNIQUE (tenant_id, id)
);
-- ClaimOutbox scans pending items by due time across all tenants.
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_tenant ON outbox (tenant_id, created_at);

CREATE TABLE integrations (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    config     BYTEA,
    created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    UNIQUE (tenant_id, id)
);

-- +goose Down
DROP TABLE integrations;
DROP TABLE outbox;
DROP TABLE audit_events;
DROP TABLE failure_counters;
DROP TABLE verification_sends;
DROP TABLE verifications;
DROP TABLE policies;
DROP TABLE technicians;
DROP TABLE contact_destinations;
DROP TABLE contacts;
DROP TABLE clients;
DROP TABLE tenants;
