-- Twin of PostgreSQL's migration 34, which builds a trigram index of audit
-- text for events other than the gateway's; SQLite has no such index (its
-- free-text search reads the rows the other filters leave).
SELECT 1;
