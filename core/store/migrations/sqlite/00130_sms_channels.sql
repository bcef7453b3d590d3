-- Per-tenant delivery channels, inbound SMS and opt-outs (issue 10 item 4,
-- issue 18 items 1 and 3).
--
-- tenant_channels holds a tenant's own Twilio and e-mail accounts, sealed
-- (core seals them with the master key; the AAD binds them to the tenant),
-- and the tenant's verification number in clear: inbound texts are routed
-- by it, and a number belongs to one tenant.
--
-- sms_inbound records each inbound text once (MessageSid is Twilio's id,
-- unique across accounts), so a replayed webhook changes nothing.
--
-- sms_optouts is a tenant's opt-out state per number (STOP / START); rows
-- stay when a number re-subscribes, so the date of the last change is kept.

-- +goose Up
CREATE TABLE tenant_channels (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    sms_number TEXT NOT NULL DEFAULT '',
    sealed     BLOB,
    updated_at INTEGER
);
CREATE UNIQUE INDEX tenant_channels_sms_number ON tenant_channels (sms_number) WHERE sms_number <> '';

CREATE TABLE sms_inbound (
    message_sid TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    from_number TEXT NOT NULL,
    to_number   TEXT NOT NULL,
    body        TEXT NOT NULL DEFAULT '',
    keyword     TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    received_at INTEGER
);
CREATE INDEX sms_inbound_recent ON sms_inbound (tenant_id, received_at);

CREATE TABLE sms_optouts (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    phone      TEXT NOT NULL,
    opted_out  INTEGER NOT NULL DEFAULT 0,
    keyword    TEXT NOT NULL DEFAULT '',
    changed_at INTEGER,
    PRIMARY KEY (tenant_id, phone)
);

-- +goose Down
DROP TABLE sms_optouts;
DROP TABLE sms_inbound;
DROP TABLE tenant_channels;
