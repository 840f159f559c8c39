-- Issued invoices: immutable documents. The lines are stored as the JSON
-- the invoice was issued with, so later price changes or late events never
-- alter it; number is ATR-YYYY-MM-NNNN, in issue order within the month.
CREATE TABLE invoices (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    month        TEXT NOT NULL,
    number       TEXT NOT NULL UNIQUE,
    issued_at    BIGINT NOT NULL,
    usage_micros BIGINT NOT NULL,
    total_micros BIGINT NOT NULL,
    document     TEXT NOT NULL,
    UNIQUE (tenant_id, month)
);
CREATE INDEX invoices_month ON invoices (month);
