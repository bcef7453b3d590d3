-- A technician-verification request assigned to a PSA ticket (issue 18
-- item 2): the outcome is noted on that ticket through the outbox.

-- +goose Up
ALTER TABLE tech_verify_requests ADD COLUMN integration_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tech_verify_requests ADD COLUMN ticket_ref TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE tech_verify_requests DROP COLUMN ticket_ref;
ALTER TABLE tech_verify_requests DROP COLUMN integration_id;
