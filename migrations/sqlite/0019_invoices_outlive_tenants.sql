-- Issued invoices outlive their tenant: bookkeeping retention is longer
-- than a customer relationship, so deleting a tenant no longer deletes
-- them (no foreign key; SQLite rebuilds the table to drop one). Numbers
-- come from a sequence per month, never from a count that shrinks when
-- rows go, so a number is never given twice.
CREATE TABLE invoices_kept (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    month        TEXT NOT NULL,
    number       TEXT NOT NULL UNIQUE,
    issued_at    BIGINT NOT NULL,
    usage_micros BIGINT NOT NULL,
    total_micros BIGINT NOT NULL,
    document     TEXT NOT NULL,
    UNIQUE (tenant_id, month)
);
INSERT INTO invoices_kept SELECT id, tenant_id, month, number, issued_at, usage_micros,
    total_micros, document FROM invoices;
DROP TABLE invoices;
ALTER TABLE invoices_kept RENAME TO invoices;
CREATE INDEX invoices_month ON invoices (month);

CREATE TABLE invoice_sequences (
    month TEXT PRIMARY KEY,
    last  BIGINT NOT NULL
);
INSERT INTO invoice_sequences (month, last)
    SELECT month, MAX(CAST(SUBSTR(number, 13) AS INTEGER)) FROM invoices GROUP BY month;
