-- Prices beyond tokens: a model's flat charge per answered request (a
-- column of its price versions), the price of one OFREP flag evaluation
-- (versioned like model prices), and a plan's price per GB-month of data
-- stored and per custom-model-month. Stored data and deployed custom
-- models are sampled once a day per tenant; an invoice prices the month's
-- samples with the plan in force on each day.
ALTER TABLE model_prices ADD COLUMN request_micros BIGINT NOT NULL DEFAULT 0;

CREATE TABLE evaluation_prices (
    effective_from         BIGINT PRIMARY KEY,
    micros_per_evaluation  BIGINT NOT NULL,
    created_at             BIGINT NOT NULL
);

ALTER TABLE plans ADD COLUMN storage_gb_month_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE plans ADD COLUMN custom_model_month_micros BIGINT NOT NULL DEFAULT 0;

CREATE TABLE meter_samples (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    meter      TEXT NOT NULL,
    day        BIGINT NOT NULL,
    value      BIGINT NOT NULL,
    sampled_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, meter, day)
);
