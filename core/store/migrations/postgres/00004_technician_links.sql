-- Which PSA member each technician is, per integration: a pod that proves
-- its member (ConnectWise member auth) acts as the linked technician. Keyed
-- by the PSA's member id, never by a login name or email.

-- +goose Up
CREATE TABLE technician_links (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    integration_id TEXT NOT NULL,
    member_ref     TEXT NOT NULL,
    technician_id  TEXT NOT NULL,
    created_at     TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, integration_id, member_ref),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, technician_id) REFERENCES technicians (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE technician_links;
