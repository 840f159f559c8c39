-- Sign-in throttling keeps one row per key (an address prefix, an account,
-- an account from one address prefix) instead of one row per failure: the
-- attempt is claimed with a single conditional UPDATE before the password is
-- checked, so concurrent guesses cannot all slip past a count.
CREATE TABLE sign_in_throttle (
    key         TEXT PRIMARY KEY,
    failures    BIGINT NOT NULL,
    delay_ms    BIGINT NOT NULL,
    next_at     BIGINT NOT NULL,
    last_at     BIGINT NOT NULL,
    denied      BIGINT NOT NULL,
    audited_at  BIGINT NOT NULL
);
DROP TABLE sign_in_failures;

-- Who disabled a user, so a tenant admin cannot undo a platform admin.
ALTER TABLE users ADD COLUMN disabled_by_role TEXT;

-- A tenant role without a tenant would fail closed in the service layer;
-- the database refuses to hold one at all (SQLite cannot add a CHECK to an
-- existing table, so triggers do it).
CREATE TRIGGER users_tenant_role_insert BEFORE INSERT ON users
WHEN NEW.role <> 'platform_admin' AND NEW.tenant_id IS NULL
BEGIN SELECT RAISE(ABORT, 'users_tenant_role_has_tenant'); END;
CREATE TRIGGER users_tenant_role_update BEFORE UPDATE OF role, tenant_id ON users
WHEN NEW.role <> 'platform_admin' AND NEW.tenant_id IS NULL
BEGIN SELECT RAISE(ABORT, 'users_tenant_role_has_tenant'); END;
