-- no-transaction
-- The trigram index over every audit event gives way to migration 34's,
-- which leaves the gateway's decisions out; dropped CONCURRENTLY so appends
-- go on meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS audit_events_text;
