-- The time step of each technician's last accepted TOTP code, so a code
-- cannot be replayed within its validity window (RFC 6238 §5.2).

-- +goose Up
ALTER TABLE technicians ADD COLUMN last_totp_step BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE technicians DROP COLUMN last_totp_step;
