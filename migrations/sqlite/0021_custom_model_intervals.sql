-- Custom models are billed by the hour they are served, from these
-- stretches (opened when a version is deployed, closed when it is
-- undeployed or retired), not from one sample a day that a schedule could
-- dodge. Versions served now start a stretch at their last change; the
-- old daily samples of both meters go (the stretches replace them).
CREATE TABLE custom_model_served (
    model_id           TEXT NOT NULL,
    tenant_id          TEXT NOT NULL,
    hosting_fee_micros BIGINT NOT NULL,
    served_from        BIGINT NOT NULL,
    served_to          BIGINT
);
CREATE INDEX custom_model_served_tenant ON custom_model_served (tenant_id, served_from);
INSERT INTO custom_model_served (model_id, tenant_id, hosting_fee_micros, served_from, served_to)
    SELECT id, tenant_id, hosting_fee_micros, updated_at, NULL FROM custom_models
    WHERE status IN ('deployed', 'deprecated');
DELETE FROM meter_samples WHERE meter IN ('custom_models', 'hosting_fees');
