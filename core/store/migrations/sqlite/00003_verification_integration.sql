-- The PSA integration a verification's ticket belongs to, so the result can
-- be written to that ticket as a note ('' for verifications without one).

-- +goose Up
ALTER TABLE verifications ADD COLUMN integration_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE verifications DROP COLUMN integration_id;
