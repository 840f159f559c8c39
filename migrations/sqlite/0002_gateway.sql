-- Providers, the model catalog (the price table), tenant aliases and the usage ledger.
CREATE TABLE providers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    region      TEXT NOT NULL DEFAULT 'any',
    timeout_ms  INTEGER NOT NULL DEFAULT 60000,
    api_key_env TEXT,
    api_key_enc TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE models (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL UNIQUE,
    input_micros_per_mtok      INTEGER NOT NULL,
    output_micros_per_mtok     INTEGER NOT NULL,
    cache_read_micros_per_mtok INTEGER NOT NULL DEFAULT 0,
    cache_write_micros_per_mtok INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL
);

CREATE TABLE deployments (
    model_id       TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    provider_id    TEXT NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    upstream_model TEXT NOT NULL,
    priority       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, provider_id)
);

CREATE TABLE model_aliases (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alias      TEXT NOT NULL,
    model_id   TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, alias)
);

CREATE TABLE usage_events (
    request_id         TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    api_key_id         TEXT,
    model              TEXT NOT NULL,
    provider           TEXT,
    dialect            TEXT NOT NULL,
    stream             INTEGER NOT NULL,
    input_tokens       INTEGER NOT NULL,
    output_tokens      INTEGER NOT NULL,
    cache_read_tokens  INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_micros        INTEGER NOT NULL,
    latency_ms         INTEGER NOT NULL,
    status             INTEGER NOT NULL,
    error_type         TEXT,
    created_at         INTEGER NOT NULL
);
CREATE INDEX usage_events_tenant ON usage_events(tenant_id, created_at);
