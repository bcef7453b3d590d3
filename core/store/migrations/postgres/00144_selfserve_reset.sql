-- The end-user self-serve reset and unlock page (issue 17.3). A user
-- proves themselves with a code sent to their registered mobile
-- (selfserve_challenges: the code only as an HMAC, with its attempts,
-- expiry and single use; security.md §1), consecutive failures per user
-- across codes (selfserve_failures, NIST SP 800-63B §3.2.2), and the
-- reset or unlock the user then asked for, queued as an agent task for
-- the client's harvester, with its result (selfserve_requests). All go
-- with the user.

-- +goose Up
CREATE TABLE selfserve_challenges (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    guid        TEXT NOT NULL,
    destination TEXT NOT NULL,
    code_hash   BYTEA NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ,
    expires_at  TIMESTAMPTZ,
    consumed_at TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id, guid) REFERENCES directory_users (tenant_id, client_id, guid) ON DELETE CASCADE
);
CREATE INDEX selfserve_challenges_user ON selfserve_challenges (tenant_id, client_id, guid, created_at);

CREATE TABLE selfserve_failures (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    guid       TEXT NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, client_id, guid),
    FOREIGN KEY (tenant_id, client_id, guid) REFERENCES directory_users (tenant_id, client_id, guid) ON DELETE CASCADE
);

CREATE TABLE selfserve_requests (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    guid        TEXT NOT NULL,
    action      TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ,
    expires_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id, guid) REFERENCES directory_users (tenant_id, client_id, guid) ON DELETE CASCADE
);
CREATE UNIQUE INDEX selfserve_requests_task ON selfserve_requests (tenant_id, task_id);

-- +goose Down
DROP TABLE selfserve_requests;
DROP TABLE selfserve_failures;
DROP TABLE selfserve_challenges;
