-- Technician lifecycle: an admin can disable a technician (disabled_at),
-- every session carries the technician's session_epoch so raising it ends
-- them all at once, and the last successful sign-in is shown to admins.

-- +goose Up
ALTER TABLE technicians ADD COLUMN disabled_at INTEGER;
ALTER TABLE technicians ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE technicians ADD COLUMN last_login_at INTEGER;

-- +goose Down
ALTER TABLE technicians DROP COLUMN last_login_at;
ALTER TABLE technicians DROP COLUMN session_epoch;
ALTER TABLE technicians DROP COLUMN disabled_at;
