-- Technician verification by text (issue 18 item 2): an end user texts
-- #verify to the tenant's verification number and gets a code that the
-- on-call technicians also get, and read out on the call; #confirm closes
-- it.
--
-- tech_verify_requests: one row per #verify. code_hash is
-- HMAC-SHA-256(server key, id ‖ channel ‖ code) (security.md §1.4);
-- code_sealed is the same code sealed with the master key for the
-- technicians' inbox (the technician reads it to the caller) and is
-- emptied when the request ends. contact_id is '' for a number that is on
-- file for no contact (an "unknown caller": no code).
--
-- tech_verify_replies: one row per text we answered, for the reply rate
-- limits per sender and per tenant (security.md §6).

-- +goose Up
CREATE TABLE tech_verify_requests (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    phone       TEXT NOT NULL,
    number      TEXT NOT NULL,
    message_sid TEXT NOT NULL,
    contact_id  TEXT NOT NULL DEFAULT '',
    client_id   TEXT NOT NULL DEFAULT '',
    matches     INTEGER NOT NULL DEFAULT 0,
    provenance  TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    code_hash   BYTEA,
    code_sealed BYTEA,
    attempts    INTEGER NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    claimed_by  TEXT NOT NULL DEFAULT '',
    claimed_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ,
    expires_at  TIMESTAMPTZ,
    closed_at   TIMESTAMPTZ
);
CREATE INDEX tech_verify_requests_phone ON tech_verify_requests (tenant_id, phone, created_at);
CREATE INDEX tech_verify_requests_recent ON tech_verify_requests (tenant_id, created_at);

CREATE TABLE tech_verify_replies (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    phone     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    sent_at   TIMESTAMPTZ
);
CREATE INDEX tech_verify_replies_phone ON tech_verify_replies (tenant_id, phone, sent_at);
CREATE INDEX tech_verify_replies_recent ON tech_verify_replies (tenant_id, sent_at);

-- +goose Down
DROP TABLE tech_verify_replies;
DROP TABLE tech_verify_requests;
