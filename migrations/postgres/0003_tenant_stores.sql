-- Where each tenant's data lives (DESIGN §3). `epoch` changes whenever the
-- placement does, so writers can tell that a move or an erase happened under
-- them. `target_*` is set while the tenant's data moves to another level.
CREATE TABLE tenant_stores (
    tenant_id       TEXT PRIMARY KEY,
    level           TEXT NOT NULL,
    location        TEXT NOT NULL,
    target_level    TEXT,
    target_location TEXT,
    epoch           BIGINT NOT NULL DEFAULT 0,
    version         BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Tenants created before stores existed kept their data in the shared table.
INSERT INTO tenant_stores (tenant_id, level, location, epoch, version, updated_at)
    SELECT id, 'row_level', '', 0, 1, updated_at FROM tenants;
UPDATE tenants SET isolation = 'row_level';

-- Row level security on the shared tenant tables. Tenant transactions run as
-- this role (no BYPASSRLS, not a superuser), so the policy holds even when
-- DATABASE_URL names a superuser. Roles are cluster-wide: several Atrium
-- databases on one server share it, and parallel migrations may race to
-- create it.
DO $$
BEGIN
    CREATE ROLE atrium_tenant NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    EXECUTE format('GRANT atrium_tenant TO %I', current_user);
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA public TO atrium_tenant;
GRANT SELECT, INSERT, DELETE ON usage_events TO atrium_tenant;

ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_events FORCE ROW LEVEL SECURITY;
-- Without the setting, current_setting(…, true) is NULL or '' and no row matches:
-- an unscoped query reads nothing.
CREATE POLICY tenant_isolation ON usage_events
    USING (tenant_id = current_setting('atrium.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('atrium.tenant_id', true));
