-- Soft-budget webhooks are retried durably: each alert keeps the message
-- id it is sent under (the same on every attempt, so a receiver drops a
-- duplicate), how many attempts were made, and when the next is due
-- (NULL: delivered, given up, or no webhook). A replica that crashes
-- mid-delivery leaves the alert due, and any replica picks it up.
ALTER TABLE budget_alerts ADD COLUMN message_id TEXT;
ALTER TABLE budget_alerts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE budget_alerts ADD COLUMN next_attempt_at BIGINT;
CREATE INDEX budget_alerts_due ON budget_alerts (next_attempt_at);
