-- The assurance a verification reached when it differs from its method's
-- (issue 19: a Duo push sent as a Verified Duo Push is 'strong'); '' means
-- the method's own.

-- +goose Up
ALTER TABLE verifications ADD COLUMN level TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE verifications DROP COLUMN level;
