-- Usage of other kinds than completions (OFREP flag evaluations, counted
-- in units). The shared (row level) usage table; tenant stores get the same
-- columns from tenant migration 3.
ALTER TABLE usage_events ADD COLUMN kind TEXT NOT NULL DEFAULT 'completion';
ALTER TABLE usage_events ADD COLUMN units BIGINT NOT NULL DEFAULT 0;
