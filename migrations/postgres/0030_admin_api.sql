-- The admin REST API (issue 23): scoped admin tokens (SHA-256 hashes only),
-- the idempotency keys of their creates (kept 24 hours), and a revision on
-- tenants so a stale If-Match is refused instead of overwriting.
CREATE TABLE admin_tokens (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    scope           TEXT NOT NULL,
    tenant_id       TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    prefix          TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    rate_per_minute BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX admin_tokens_created ON admin_tokens(created_at, id);

CREATE TABLE idempotency_keys (
    token_id     TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (token_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

ALTER TABLE tenants ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
