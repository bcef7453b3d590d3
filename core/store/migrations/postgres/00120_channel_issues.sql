-- Misconfigured channels (issue 10 item 3): a channel of a tenant — SMS,
-- voice, email, or one PSA integration — that an outside service refused
-- because of how it is set up (wrong or revoked credentials, an unknown
-- sender, keys without rights). One row per (tenant, channel) while the
-- condition lasts; outbox items of that channel wait (status 'waiting',
-- outbox.channel names it) instead of being retried like an outage, and
-- one probe at a time, with backoff, checks whether it works again.

-- +goose Up
CREATE TABLE channel_issues (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    channel        TEXT NOT NULL,
    code           TEXT NOT NULL DEFAULT '',
    vendor_message TEXT NOT NULL DEFAULT '',
    fix            TEXT NOT NULL DEFAULT '',
    since          TIMESTAMPTZ,
    last_seen      TIMESTAMPTZ,
    next_probe_at  TIMESTAMPTZ,
    probes         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, channel)
);
CREATE INDEX channel_issues_probe ON channel_issues (next_probe_at);
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_waiting ON outbox (tenant_id, channel, status);

-- +goose Down
DROP INDEX outbox_waiting;
ALTER TABLE outbox DROP COLUMN channel;
DROP TABLE channel_issues;
