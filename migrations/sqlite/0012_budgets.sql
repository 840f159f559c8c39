-- Budgets: a spending limit for a tenant (api_key_id '') or one of its API
-- keys, per calendar month or rolling N days, hard (refuses) or soft
-- (alerts). One of each kind per tenant or key. A soft budget's webhook
-- secret is sealed with the secret box, like provider credentials.
CREATE TABLE budgets (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    api_key_id     TEXT NOT NULL DEFAULT '',
    enforcement    TEXT NOT NULL,
    limit_micros   BIGINT NOT NULL,
    period         TEXT NOT NULL,
    webhook_url    TEXT,
    webhook_secret TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, api_key_id, enforcement)
);

-- A soft budget's alerts: once per threshold per period (the key makes a
-- second replica's attempt a no-op), with what the webhook answered.
CREATE TABLE budget_alerts (
    budget_id      TEXT NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
    tenant_id      TEXT NOT NULL,
    period_start   BIGINT NOT NULL,
    threshold      INTEGER NOT NULL,
    spent_micros   BIGINT NOT NULL,
    limit_micros   BIGINT NOT NULL,
    delivery       TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (budget_id, period_start, threshold)
);
CREATE INDEX budget_alerts_tenant ON budget_alerts (tenant_id, created_at);
