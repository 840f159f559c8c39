-- Providers, the model catalog (the price table), tenant aliases and the usage ledger.
CREATE TABLE providers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    region      TEXT NOT NULL DEFAULT 'any',
    timeout_ms  BIGINT NOT NULL DEFAULT 60000,
    api_key_env TEXT,
    api_key_enc TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE models (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL UNIQUE,
    input_micros_per_mtok      BIGINT NOT NULL,
    output_micros_per_mtok     BIGINT NOT NULL,
    cache_read_micros_per_mtok BIGINT NOT NULL DEFAULT 0,
    cache_write_micros_per_mtok BIGINT NOT NULL DEFAULT 0,
    created_at                 BIGINT NOT NULL
);

CREATE TABLE deployments (
    model_id       TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    provider_id    TEXT NOT NULL REFERENCES providers(id) ON DELETE CASCADE,
    upstream_model TEXT NOT NULL,
    priority       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (model_id, provider_id)
);

CREATE TABLE model_aliases (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    alias      TEXT NOT NULL,
    model_id   TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, alias)
);

CREATE TABLE usage_events (
    request_id         TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    api_key_id         TEXT,
    model              TEXT NOT NULL,
    provider           TEXT,
    dialect            TEXT NOT NULL,
    stream             BIGINT NOT NULL,
    input_tokens       BIGINT NOT NULL,
    output_tokens      BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost_micros        BIGINT NOT NULL,
    latency_ms         BIGINT NOT NULL,
    status             BIGINT NOT NULL,
    error_type         TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX usage_events_tenant ON usage_events(tenant_id, created_at);
