-- Plans and subscriptions. A plan's markups (model → percent) are one JSON
-- object; a tenant's plan history is its subscriptions, each in force from
-- its effective_from until the next one's, so a month's base fee is
-- prorated from them and never from the tenant's current plan alone.
CREATE TABLE plans (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL UNIQUE,
    base_fee_micros        BIGINT NOT NULL,
    included_credit_micros BIGINT NOT NULL,
    markup_percent         TEXT NOT NULL,
    rpm                    BIGINT,
    tpm                    BIGINT,
    created_at             BIGINT NOT NULL
);

CREATE TABLE subscriptions (
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    plan_id        TEXT NOT NULL REFERENCES plans(id),
    effective_from BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, effective_from)
);
