-- Data policies, governance fields on the usage ledger, the audit hash
-- chain and audit retention.
CREATE TABLE policies (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    target_kind  TEXT NOT NULL,
    target_value TEXT NOT NULL,
    action       TEXT NOT NULL,
    direction    TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX policies_tenant ON policies(tenant_id);

-- The shared (row level) usage table; tenant stores get the same columns
-- from tenant migration 2.
ALTER TABLE usage_events ADD COLUMN policy_action TEXT NOT NULL DEFAULT 'allow';
ALTER TABLE usage_events ADD COLUMN classification TEXT NOT NULL DEFAULT 'public';

-- Each audit event's place in its chain (a tenant's id, or 'platform'):
-- hash = sha256(prev_hash || canonical_json(event)).
ALTER TABLE audit_events ADD COLUMN chain TEXT NOT NULL DEFAULT 'platform';
ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_chain ON audit_events(chain, chain_seq);
CREATE INDEX audit_events_actor ON audit_events(actor, at);
CREATE INDEX audit_events_action ON audit_events(action, at);
CREATE INDEX audit_events_status ON audit_events(status, at);

-- The newest link of each chain. Appending locks its row, so concurrent
-- writers take turns; purges move the anchor the walk starts from.
CREATE TABLE audit_chains (
    chain        TEXT PRIMARY KEY,
    head_seq     BIGINT NOT NULL,
    head_hash    TEXT NOT NULL,
    anchor_seq   BIGINT NOT NULL DEFAULT 0,
    anchor_hash  TEXT NOT NULL DEFAULT ''
);

ALTER TABLE tenants ADD COLUMN audit_retention_days BIGINT;

-- Free-text audit search: trigrams make LIKE '%words%' an index lookup.
-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX audit_events_text ON audit_events USING gin (
    LOWER(action || ' ' || actor || ' ' || COALESCE(resource_id, '') || ' ' || details) gin_trgm_ops
);
