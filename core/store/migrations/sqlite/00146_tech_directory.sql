-- Technician reset and unlock (issue 17.4). After verifying a caller, the
-- technician who ran the verification may reset the password of, or
-- unlock, the directory account bound to that contact, once per action:
-- directory_grants holds each use of a verification for an action, keyed
-- so that a second use (another press, another node) cannot be inserted.
-- The reset or unlock itself is a selfserve_requests row like the
-- end user's, with the verification and technician it came from.

-- +goose Up
CREATE TABLE directory_grants (
    tenant_id       TEXT NOT NULL,
    verification_id TEXT NOT NULL,
    action          TEXT NOT NULL,
    contact_id      TEXT NOT NULL,
    technician_id   TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    expires_at      INTEGER,
    used_at         INTEGER,
    PRIMARY KEY (tenant_id, verification_id, action)
);

ALTER TABLE selfserve_requests ADD COLUMN verification_id TEXT NOT NULL DEFAULT '';
ALTER TABLE selfserve_requests ADD COLUMN technician_id TEXT NOT NULL DEFAULT '';
CREATE INDEX selfserve_requests_verification ON selfserve_requests (tenant_id, verification_id);

-- +goose Down
DROP INDEX selfserve_requests_verification;
ALTER TABLE selfserve_requests DROP COLUMN technician_id;
ALTER TABLE selfserve_requests DROP COLUMN verification_id;
DROP TABLE directory_grants;
