-- The domain's password policy as a client's harvester last reported it
-- (issue 17.3): the self-serve page checks a new password against it
-- before queuing the reset. Goes with the client.

-- +goose Up
CREATE TABLE directory_policy (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    min_length INTEGER NOT NULL DEFAULT 0,
    complexity BOOLEAN NOT NULL DEFAULT FALSE,
    history    INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, client_id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE directory_policy;
