-- The self-serve welcome e-mail (issue 17.3): each directory user's
-- outstanding link to confirm their mobile number, by the SHA-256 of its
-- token (the token itself is only in the e-mail). Goes with the user.

-- +goose Up
CREATE TABLE directory_welcome (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    guid       TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    mobile     TEXT NOT NULL,
    created_at INTEGER,
    expires_at INTEGER,
    used_at    INTEGER,
    PRIMARY KEY (tenant_id, client_id, guid),
    FOREIGN KEY (tenant_id, client_id, guid) REFERENCES directory_users (tenant_id, client_id, guid) ON DELETE CASCADE
);
CREATE UNIQUE INDEX directory_welcome_token ON directory_welcome (tenant_id, token_hash);

-- +goose Down
DROP TABLE directory_welcome;
