-- Replicas know of each other, rebuild only the caches a change touched,
-- and show the same engines (issue 24).
--
-- Each replica registers here at start, renews `seen_at` every few seconds
-- and leaves on a clean stop. `instance` is an id kept in the replica's
-- data directory (which one live process holds at a time), so a replica
-- restarted on it replaces its predecessor's row. The host and address
-- are operational facts, not personal data.
CREATE TABLE replicas (
    id TEXT PRIMARY KEY,
    instance TEXT NOT NULL,
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    addr TEXT NOT NULL,
    data_dir TEXT NOT NULL,
    version TEXT NOT NULL,
    redis BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

-- One version per gateway cache: a change bumps the versions of the caches
-- it touched, and every replica rebuilds only those.
CREATE TABLE cache_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO cache_versions (name, version) VALUES
    ('catalog', 0), ('policies', 0), ('flags', 0), ('budgets', 0), ('keys', 0);

-- Each serving endpoint as the reconciler last saw it (reachable, adapters
-- loaded, latest repair), written by the replica that runs the reconciler
-- and read by every other, so every portal shows the same engines.
CREATE TABLE engine_states (
    provider TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    checked_at BIGINT NOT NULL
);
