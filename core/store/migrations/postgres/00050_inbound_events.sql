-- Events PSAs post to us (callbacks), recorded before they are acknowledged
-- and acted on afterwards from the outbox (kind inbound_event). One row per
-- event: (tenant, integration, key) is unique, so a PSA's retry of an event
-- is recorded and acted on once.

-- +goose Up
CREATE TABLE inbound_events (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    integration_id TEXT NOT NULL,
    event_key      TEXT NOT NULL,
    type           TEXT NOT NULL DEFAULT '',
    action         TEXT NOT NULL DEFAULT '',
    ref            TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    outcome        TEXT NOT NULL DEFAULT '',
    attempts       INTEGER NOT NULL DEFAULT 0,
    received_at    TIMESTAMPTZ,
    done_at        TIMESTAMPTZ,
    UNIQUE (tenant_id, integration_id, event_key),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX inbound_events_recent ON inbound_events (tenant_id, integration_id, received_at);

-- +goose Down
DROP TABLE inbound_events;
