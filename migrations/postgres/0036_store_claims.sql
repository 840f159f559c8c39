-- Who may change a tenant's store (tenant_store/claims.rs). An erasure
-- (GDPR Art. 17) and a move to another isolation level exclude each other:
-- a move copies the source page by page, and rows it copied before an
-- erasure deleted them in the source would live on in the target. And only
-- one run of a move copies at a time: a second run, still copying after the
-- first had switched, would put erased rows back into the new store.
--   erasing_until  the latest lease of the erasures holding the store (each
--                  one a row of erasure_holds); no move starts before it
--   mover          the run of a move that holds the store, until
--   moving_until   its lease, renewed as it copies
-- Leases are on the database's clock, and end: a process killed mid-way
-- blocks the other side for at most its lease. Claims and holds update the
-- tenant's one tenant_stores row first, so the database orders them across
-- replicas.
ALTER TABLE tenant_stores ADD COLUMN erasing_until BIGINT;
ALTER TABLE tenant_stores ADD COLUMN mover TEXT;
ALTER TABLE tenant_stores ADD COLUMN moving_until BIGINT;
CREATE TABLE erasure_holds (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    until     BIGINT NOT NULL
);
CREATE INDEX erasure_holds_tenant ON erasure_holds (tenant_id);
