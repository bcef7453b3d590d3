-- Contacts and clients are deleted softly (deleted_at): verifications and
-- the audit log keep pointing at them, and a PSA contact that comes back is
-- restored rather than duplicated. synced_at is when a PSA mirror was last
-- refreshed from its PSA, so that a stale one is read again.

-- +goose Up
ALTER TABLE contacts ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE contacts ADD COLUMN synced_at TIMESTAMPTZ;
ALTER TABLE clients ADD COLUMN deleted_at TIMESTAMPTZ;
CREATE INDEX audit_events_actor ON audit_events (tenant_id, actor, seq);

-- +goose Down
DROP INDEX audit_events_actor;
ALTER TABLE clients DROP COLUMN deleted_at;
ALTER TABLE contacts DROP COLUMN synced_at;
ALTER TABLE contacts DROP COLUMN deleted_at;
