-- Custom models (issue 13). A serving pool is a set of vLLM-compatible
-- endpoints for one base model; each endpoint is also a provider, so the
-- base model is in the catalog and the gateway's upstream path serves
-- both the base model and the adapters.
CREATE TABLE serving_pools (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    base_model    TEXT NOT NULL,
    model_id      TEXT NOT NULL REFERENCES models(id),
    max_loras     BIGINT NOT NULL,
    max_lora_rank BIGINT NOT NULL,
    -- Other names adapters may give for the base model (JSON list), such
    -- as the Hugging Face id it was trained from.
    base_aliases  TEXT NOT NULL DEFAULT '[]',
    created_at    BIGINT NOT NULL
);

CREATE TABLE pool_endpoints (
    pool_id     TEXT NOT NULL REFERENCES serving_pools(id) ON DELETE CASCADE,
    provider_id TEXT NOT NULL REFERENCES providers(id),
    base_url    TEXT NOT NULL,
    PRIMARY KEY (pool_id, provider_id)
);

-- One row per version of a tenant's custom model. Booleans are 0/1 and
-- alpha is decimal text, the same on both databases.
CREATE TABLE custom_models (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                   TEXT NOT NULL,
    version                BIGINT NOT NULL,
    base_model             TEXT NOT NULL,
    adapter                TEXT NOT NULL,
    lora_rank              BIGINT,
    lora_alpha             TEXT,
    target_modules         TEXT NOT NULL,
    fine_tune_config       TEXT NOT NULL,
    status                 TEXT NOT NULL,
    status_reason          TEXT,
    pinned                 BIGINT NOT NULL DEFAULT 0,
    input_micros_per_mtok  BIGINT,
    output_micros_per_mtok BIGINT,
    markup_percent         BIGINT NOT NULL,
    hosting_fee_micros     BIGINT NOT NULL DEFAULT 0,
    deprecated_until       BIGINT,
    -- When a request last asked for it (flushed every few seconds), so
    -- every replica evicts the same least recently used adapter.
    last_used_at           BIGINT NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    UNIQUE (tenant_id, name, version)
);

-- Which version a bare name reaches: switching is one update of one row,
-- so a request sees the old version or the new one, never neither.
CREATE TABLE custom_model_routes (
    tenant_id        TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    version          BIGINT NOT NULL,
    previous_version BIGINT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
