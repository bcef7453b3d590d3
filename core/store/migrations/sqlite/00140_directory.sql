-- The directory (issue 17): users of a client's Active Directory as its
-- harvester last reported them (keyed by objectGUID within the client),
-- and people's accept/reject decisions on matching them to contacts.

-- +goose Up
CREATE TABLE directory_users (
    tenant_id              TEXT NOT NULL,
    client_id              TEXT NOT NULL,
    guid                   TEXT NOT NULL,
    sid                    TEXT NOT NULL,
    device_id              TEXT NOT NULL DEFAULT '',
    dn                     TEXT NOT NULL DEFAULT '',
    sam_account_name       TEXT NOT NULL DEFAULT '',
    upn                    TEXT NOT NULL DEFAULT '',
    given_name             TEXT NOT NULL DEFAULT '',
    surname                TEXT NOT NULL DEFAULT '',
    display_name           TEXT NOT NULL DEFAULT '',
    mail                   TEXT NOT NULL DEFAULT '',
    proxy_addresses        TEXT NOT NULL DEFAULT '',
    mobile                 TEXT NOT NULL DEFAULT '',
    phone                  TEXT NOT NULL DEFAULT '',
    mobile_e164            TEXT NOT NULL DEFAULT '',
    phone_e164             TEXT NOT NULL DEFAULT '',
    enabled                INTEGER NOT NULL DEFAULT 0,
    locked                 INTEGER NOT NULL DEFAULT 0,
    password_last_set      INTEGER,
    must_change_password   INTEGER NOT NULL DEFAULT 0,
    password_never_expires INTEGER NOT NULL DEFAULT 0,
    password_expires_at    INTEGER,
    usn_changed            INTEGER NOT NULL DEFAULT 0,
    synced_at              INTEGER,
    PRIMARY KEY (tenant_id, client_id, guid),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_users_sid ON directory_users (tenant_id, sid);

CREATE TABLE directory_match_decisions (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    guid       TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    state      TEXT NOT NULL,
    made_by    TEXT NOT NULL DEFAULT '',
    made_at    INTEGER,
    PRIMARY KEY (tenant_id, client_id, guid, contact_id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE directory_match_decisions;
DROP TABLE directory_users;
