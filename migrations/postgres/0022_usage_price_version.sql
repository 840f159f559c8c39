-- The price version each ledger row was priced with, by the moment it took
-- effect, beside the catalog's own model name: invoices and audits name the
-- exact price without re-resolving through today's aliases. The shared
-- (row level) usage table; tenant stores get the same column from tenant
-- migration 5.
ALTER TABLE usage_events ADD COLUMN price_from BIGINT;
