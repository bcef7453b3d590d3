-- +goose Up
-- A start counts the contact's open verifications (SendStats.Open) and
-- reads them to replace them (LockOpenVerifications). Through
-- verifications_contact each walked every verification the contact ever
-- had; this index holds only the open ones, a handful at most, whatever
-- the history's length (issue 11 item 2).
CREATE INDEX verifications_open ON verifications (tenant_id, contact_id, created_at) WHERE status IN ('pending', 'sent');

-- +goose Down
DROP INDEX verifications_open;
