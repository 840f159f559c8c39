-- Hourly rollups of the ledger per tenant, model and key, written by the
-- ledger writer in the same transaction as the events (twin of tenant-store
-- migration 4); dashboards read these, never the raw events.
CREATE TABLE usage_hourly (
    tenant_id          TEXT NOT NULL,
    hour               BIGINT NOT NULL,
    model              TEXT NOT NULL,
    api_key_id         TEXT NOT NULL,
    requests           BIGINT NOT NULL,
    errors             BIGINT NOT NULL,
    input_tokens       BIGINT NOT NULL,
    output_tokens      BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost_micros        BIGINT NOT NULL,
    units              BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hour, model, api_key_id)
);
INSERT INTO usage_hourly (tenant_id, hour, model, api_key_id, requests, errors, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, cost_micros, units)
SELECT tenant_id, (created_at / 3600000) * 3600000, model, COALESCE(api_key_id, ''),
    SUM(CASE WHEN kind = 'completion' THEN 1 ELSE 0 END),
    SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens), SUM(output_tokens),
    SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_micros), SUM(units)
FROM usage_events GROUP BY tenant_id, (created_at / 3600000) * 3600000, model,
    COALESCE(api_key_id, '');

-- The same row level security as usage_events (migration 0003).
GRANT SELECT, INSERT, UPDATE, DELETE ON usage_hourly TO atrium_tenant;
ALTER TABLE usage_hourly ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_hourly FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON usage_hourly
    USING (tenant_id = current_setting('atrium.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('atrium.tenant_id', true));
