-- Audit links are keyed (HMAC-SHA256 with a key derived from
-- ATRIUM_SECRET_KEY); each names its key so the secret can be rotated.
-- NULL marks a link hashed before keys (plain SHA-256), reported by verify.
ALTER TABLE audit_events ADD COLUMN key_id TEXT;

-- One event per position in a chain. Position 0 is outside any chain
-- (events from before chains), which verify reports separately.
CREATE UNIQUE INDEX audit_events_chain_position ON audit_events(chain, chain_seq) WHERE chain_seq > 0;
