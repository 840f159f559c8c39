-- What compliance reports need per request: the PII classes detected in the
-- prompt (a bitmask of EntityType, acted on or not), the region of the
-- provider called, and the end user the client named. The shared (row level)
-- usage table; tenant stores get the same columns from tenant migration 6.
ALTER TABLE usage_events ADD COLUMN pii_classes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_events ADD COLUMN provider_region TEXT;
ALTER TABLE usage_events ADD COLUMN end_user TEXT;
