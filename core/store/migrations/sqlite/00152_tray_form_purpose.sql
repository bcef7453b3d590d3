-- A tray form is for logging a ticket or for signing in (issue 16 binding
-- (b), "Login / Register": an e-mailed password typed on the form binds).

-- +goose Up
ALTER TABLE tray_forms ADD COLUMN purpose TEXT NOT NULL DEFAULT 'ticket';

-- +goose Down
ALTER TABLE tray_forms DROP COLUMN purpose;
