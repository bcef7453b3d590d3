-- +goose Up
-- The sweep of directory requests whose task expired before the harvester
-- fetched it (core.Engine.ExpireDirectoryRequests) reads a tenant's queued
-- requests by expiry; done and failed ones, nearly all of them, stay out
-- of the index.
CREATE INDEX selfserve_requests_queued ON selfserve_requests (tenant_id, expires_at) WHERE status = 'queued';

-- +goose Down
DROP INDEX selfserve_requests_queued;
