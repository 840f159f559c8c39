-- Twin of PostgreSQL's migration 35, which drops its trigram index over
-- every audit event; SQLite has none.
SELECT 1;
