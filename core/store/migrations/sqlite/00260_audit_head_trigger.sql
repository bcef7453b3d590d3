-- +goose Up
-- An audit append on SQLite is one statement (issue 11 item 2): the insert
-- of the event at the head's next seq, on the condition that the head is
-- still the one it was chained to (core/store/audit.go), and this trigger
-- advancing the head in the same statement. The writer's transaction holds
-- the database's write lock (BEGIN IMMEDIATE), so no other append can come
-- between the condition and the advance. The log only grows at its head:
-- an event at any other seq is refused, so the head cannot be left behind
-- the rows.
-- +goose StatementBegin
CREATE TRIGGER audit_events_at_head BEFORE INSERT ON audit_events
WHEN NEW.seq <> (SELECT audit_seq FROM tenants WHERE id = NEW.tenant_id) + 1
BEGIN
    SELECT RAISE(ABORT, 'audit event not appended at the head of its tenant''s log');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_advance_head AFTER INSERT ON audit_events
BEGIN
    UPDATE tenants SET audit_seq = NEW.seq, audit_hash = NEW.hash WHERE id = NEW.tenant_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_events_advance_head;
DROP TRIGGER audit_events_at_head;
