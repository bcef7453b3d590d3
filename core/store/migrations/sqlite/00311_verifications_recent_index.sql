-- +goose Up
-- The console's empty card lists the tenant's latest verifications, newest
-- first, whoever the contact (RecentVerifications, issue 12): this index
-- reads them from the newest without sorting the tenant's whole history.
CREATE INDEX verifications_recent ON verifications (tenant_id, created_at);

-- +goose Down
DROP INDEX verifications_recent;
