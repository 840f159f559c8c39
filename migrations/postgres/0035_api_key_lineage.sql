-- A key's lineage: the id of the first key, kept by every rotation. A
-- rotation moves the key's budgets to the new key, and a per-key budget
-- counts the spend of the key and the keys it was rotated from, so
-- rotating a key does not shed the budget a platform admin set on it.
-- NULL (a key an older binary made during a rolling upgrade) reads as the
-- key's own id, never as one lineage shared by every such key. Keys rotated
-- before this migration start lineages of their own.
ALTER TABLE api_keys ADD COLUMN lineage_id TEXT;
UPDATE api_keys SET lineage_id = id;
CREATE INDEX api_keys_lineage ON api_keys (lineage_id);
