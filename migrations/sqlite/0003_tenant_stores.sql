-- Where each tenant's data lives (DESIGN §3). `epoch` changes whenever the
-- placement does, so writers can tell that a move or an erase happened under
-- them. `target_*` is set while the tenant's data moves to another level.
CREATE TABLE tenant_stores (
    tenant_id       TEXT PRIMARY KEY,
    level           TEXT NOT NULL,
    location        TEXT NOT NULL,
    target_level    TEXT,
    target_location TEXT,
    epoch           INTEGER NOT NULL DEFAULT 0,
    version         INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Tenants created before stores existed kept their data in the shared table.
INSERT INTO tenant_stores (tenant_id, level, location, epoch, version, updated_at)
    SELECT id, 'row_level', '', 0, 1, updated_at FROM tenants;
UPDATE tenants SET isolation = 'row_level';
