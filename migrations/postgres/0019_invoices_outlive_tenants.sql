-- Issued invoices outlive their tenant: bookkeeping retention is longer
-- than a customer relationship, so deleting a tenant no longer deletes
-- them (the foreign key goes). Numbers come from a sequence per month,
-- never from a count that shrinks when rows go, so a number is never
-- given twice.
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_tenant_id_fkey;

CREATE TABLE invoice_sequences (
    month TEXT PRIMARY KEY,
    last  BIGINT NOT NULL
);
INSERT INTO invoice_sequences (month, last)
    SELECT month, MAX(CAST(SUBSTRING(number FROM 13) AS BIGINT)) FROM invoices GROUP BY month;
