-- The breach register (GDPR Art. 33 and 34): every personal-data breach,
-- notified or not (Art. 33(5)), with its 72-hour deadline counted from
-- detection, the notification to the supervisory authority, the tenants
-- (controllers) the operator informed, and the Art. 34 decision.
CREATE TABLE breaches (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT,
    detected_at      BIGINT NOT NULL,
    recorded_at      BIGINT NOT NULL,
    recorded_by      TEXT NOT NULL,
    nature           TEXT NOT NULL,
    categories       TEXT NOT NULL,
    subjects_approx  BIGINT NOT NULL,
    records_approx   BIGINT NOT NULL,
    consequences     TEXT NOT NULL,
    measures         TEXT NOT NULL,
    dpo              TEXT NOT NULL,
    notified_at      BIGINT,
    notification_ref TEXT,
    art34_decision   TEXT,
    art34_reason     TEXT,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX breaches_tenant ON breaches(tenant_id, detected_at);

CREATE TABLE breach_notices (
    breach_id   TEXT NOT NULL REFERENCES breaches(id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    informed_at BIGINT NOT NULL,
    PRIMARY KEY (breach_id, tenant_id)
);
