-- Feature flags. A NULL tenant_id is a platform flag (it gates Atrium's
-- own capabilities per tenant); otherwise the flag belongs to that tenant's
-- applications and no other tenant can see it. The flag itself (variants,
-- rules, rollout, kill switch) is one JSON document, checked by the
-- service before it is written and again when it is read.
CREATE TABLE flags (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX flags_platform_key ON flags(key) WHERE tenant_id IS NULL;
CREATE UNIQUE INDEX flags_tenant_key ON flags(tenant_id, key) WHERE tenant_id IS NOT NULL;
