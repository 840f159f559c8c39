-- Plans can be archived (issue 23): an archived plan takes no new
-- subscribers; tenants already on it keep it, and its history stays.
ALTER TABLE plans ADD COLUMN archived_at BIGINT;
