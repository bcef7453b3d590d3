-- +goose Up
-- An admin's lift of a contact's push stop (security.md §4: a Deny or fraud
-- report stops pushes to the user for 24 hours, "admin override only";
-- Engine.ResetLock): refusals before at no longer stop pushes, a new one
-- after it does again.
CREATE TABLE push_stop_lifts (
    tenant_id  TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, contact_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id)
);

-- +goose Down
DROP TABLE push_stop_lifts;
