-- Items a write-behind queue (usage ledger, policy audit) could not store
-- because the database refused them for good: kept with the error, so one
-- bad item never blocks the queue and nothing is silently lost.
CREATE TABLE dead_letters (
    id      TEXT PRIMARY KEY,
    queue   TEXT NOT NULL,
    payload TEXT NOT NULL,
    error   TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX dead_letters_at ON dead_letters(at);
