-- Link-page form nonces already used (issue 9 item 6): each page view
-- mints its own nonce and a POST may spend it once. Keyed by the nonce's
-- SHA-256; rows of a verification go with it.

-- +goose Up
CREATE TABLE link_nonces (
    nonce_hash      BLOB PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    verification_id TEXT NOT NULL,
    used_at         INTEGER,
    FOREIGN KEY (tenant_id, verification_id) REFERENCES verifications (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE link_nonces;
