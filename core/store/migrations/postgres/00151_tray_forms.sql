-- Tray ticket forms (issue 16, "Log a ticket"): the tray opens the user's
-- browser on a one-time page for the Windows user the service identified
-- from the pipe. Only the token's SHA-256 is kept; a form is used once and
-- lives for minutes.

-- +goose Up
CREATE TABLE tray_forms (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    sid         TEXT NOT NULL,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ,
    expires_at  TIMESTAMPTZ,
    used_at     TIMESTAMPTZ,
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX tray_forms_user ON tray_forms (tenant_id, device_id, sid, created_at);

-- +goose Down
DROP TABLE tray_forms;
