-- Replicas share everything a user sees and every periodic job runs once
-- (issue 24).
--
-- A one-time flash (a form's outcome, a new key's secret) waits here for
-- the page load that shows it, whichever replica serves that load; sealed
-- like other secrets, keyed by a hash of the session token, gone on first
-- read or after its short TTL.
CREATE TABLE flashes (
    session_hash TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX flashes_expiry ON flashes (expires_at);

-- A periodic job runs on the replica holding its lease; the holder renews
-- it every run, another replica takes it over once it lapses.
CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_ms BIGINT NOT NULL,
    runs BIGINT NOT NULL DEFAULT 0,
    last_run_at BIGINT
);
