-- An erasure (GDPR Art. 17) and an isolation move of the same tenant
-- exclude each other. A move copies the source store page by page: rows it
-- copied before an erasure deleted them in the source would live on in the
-- target. So an erasure holds the tenant's store (a count, for erasures of
-- several subjects at once, and a lease, so a process killed mid-erasure
-- blocks moves for at most an hour), no move starts while it is held, and
-- no erasure starts while a move runs. One row per tenant takes both
-- claims, so the database serialises them across replicas.
ALTER TABLE tenant_stores ADD COLUMN erasures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenant_stores ADD COLUMN erasing_until BIGINT;
