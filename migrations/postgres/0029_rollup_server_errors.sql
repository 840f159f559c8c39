-- 5xx counted apart from 4xx in the hourly rollups (twin of tenant-store
-- migration 8): `errors` keeps every status of 400 and up, `server_errors`
-- those of 500 and up; existing hours are backfilled from the events.
-- Row level security is forced on both tables, for their owner too: the
-- backfill lifts it for the length of this migration's transaction.
ALTER TABLE usage_hourly ADD COLUMN server_errors BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_hourly NO FORCE ROW LEVEL SECURITY;
ALTER TABLE usage_events NO FORCE ROW LEVEL SECURITY;
UPDATE usage_hourly SET server_errors = (SELECT COUNT(*) FROM usage_events e
    WHERE e.tenant_id = usage_hourly.tenant_id AND e.status >= 500
    AND (e.created_at / 3600000) * 3600000 = usage_hourly.hour
    AND e.model = usage_hourly.model AND COALESCE(e.api_key_id, '') = usage_hourly.api_key_id);
ALTER TABLE usage_events FORCE ROW LEVEL SECURITY;
ALTER TABLE usage_hourly FORCE ROW LEVEL SECURITY;
