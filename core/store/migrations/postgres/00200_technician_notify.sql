-- +goose Up
-- Every change of a technician's row is announced on channel
-- countersign_technicians (core/live.TechnicianChannel) at commit, so that
-- each node drops the technician from its cache of signed-in technicians
-- (core/web) before its next request: a disabled, demoted, reset or
-- signed-out technician loses access on every node, whichever node (or
-- psql session) made the change, and a node that crashes right after
-- committing cannot take the notification with it.
-- +goose StatementBegin
CREATE FUNCTION countersign_technician_changed() RETURNS trigger AS $$
DECLARE
	r RECORD;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	PERFORM pg_notify('countersign_technicians', json_build_object('tenant', r.tenant_id, 'id', r.id)::text);
	RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER technician_changed AFTER UPDATE OR DELETE ON technicians
	FOR EACH ROW EXECUTE FUNCTION countersign_technician_changed();

-- +goose Down
DROP TRIGGER technician_changed ON technicians;
DROP FUNCTION countersign_technician_changed();
