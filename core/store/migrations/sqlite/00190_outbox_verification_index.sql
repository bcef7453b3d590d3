-- +goose Up
-- The note state of each verification in a contact's history is read by
-- verification id (core.Engine.TicketNotes), and shown with the reason a
-- delivery failed in words a technician reads (reason; last_error keeps
-- the technical cause for the outbox view and the logs).
CREATE INDEX outbox_verification ON outbox (tenant_id, verification_id) WHERE verification_id <> '';
ALTER TABLE outbox ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN reason;
DROP INDEX outbox_verification;
