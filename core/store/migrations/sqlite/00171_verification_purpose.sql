-- Why a verification was started (issue 19 item 4): '' an identity check,
-- 'reset' before a password or MFA reset, whose policy minimum assurance
-- may be stricter.

-- +goose Up
ALTER TABLE verifications ADD COLUMN purpose TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE verifications DROP COLUMN purpose;
