-- no-transaction
-- The gateway's policy decisions (actor 'gateway': one audit event per
-- redacted, flagged or blocked request) leave the free-text trigram index.
-- Each carries a unique request id and a JSON of rule ids and entity types:
-- some 150 trigrams per row, which tripled PostgreSQL's CPU per insert
-- (107-158 against 35-48 microseconds a row, 50,000 rows) and capped the
-- gateway at the audit writer's rate. Control-plane events (changes,
-- sign-ins), the ones searched by words, stay indexed; a search still finds
-- gateway decisions, through their filters (action, tenant, dates) and by
-- reading their rows (services/audit_query.rs asks for both halves).
--
-- Built CONCURRENTLY, outside a transaction (one statement per migration),
-- so a large trail keeps taking appends while it builds; migration 35 then
-- drops the index that covered everything.
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_events_text_controls ON audit_events USING gin (
    LOWER(action || ' ' || actor || ' ' || COALESCE(resource_id, '') || ' ' || details) gin_trgm_ops
) WHERE actor <> 'gateway';
