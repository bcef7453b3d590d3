-- sms_texted is when a tenant last texted a number outside verifications
-- (password-expiry notices): the first text to a number in a year says how
-- to opt out, and verification texts are counted in verification_sends,
-- these here (core.NoticeTx.SMSTextedSince).

-- +goose Up
CREATE TABLE sms_texted (
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    phone     TEXT NOT NULL,
    last_at   INTEGER,
    PRIMARY KEY (tenant_id, phone)
);

-- +goose Down
DROP TABLE sms_texted;
