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
-- Built inside the migration's transaction, so audit appends wait while it
-- builds over a large trail. CREATE INDEX CONCURRENTLY (outside a
-- transaction) was tried: it waits for every open transaction, including
-- other replicas starting at once and waiting on the migration lock, which
-- deadlocked three replicas started together (tests/api/replicas.rs).
DROP INDEX IF EXISTS audit_events_text;
CREATE INDEX audit_events_text ON audit_events USING gin (
    LOWER(action || ' ' || actor || ' ' || COALESCE(resource_id, '') || ' ' || details) gin_trgm_ops
) WHERE actor <> 'gateway';
