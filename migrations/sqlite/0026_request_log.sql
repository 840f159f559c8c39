-- The opt-in request log (issue 22): per-tenant settings, the shared (row
-- level) tables (tenant stores get the same from tenant migration 7), and
-- the stored, signed compliance reports.
ALTER TABLE tenants ADD COLUMN request_log_mode TEXT NOT NULL DEFAULT 'off';
ALTER TABLE tenants ADD COLUMN request_log_retention_days BIGINT;
ALTER TABLE tenants ADD COLUMN controller_contact TEXT;
ALTER TABLE tenants ADD COLUMN dpo_contact TEXT;

CREATE TABLE request_log (
    request_id     TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    mode           TEXT NOT NULL,
    prompt         TEXT NOT NULL,
    response       TEXT NOT NULL,
    prompt_bytes   BIGINT NOT NULL,
    response_bytes BIGINT NOT NULL
);
CREATE INDEX request_log_tenant ON request_log(tenant_id, created_at);

CREATE TABLE request_log_subjects (
    tenant_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject, request_id)
);
CREATE INDEX request_log_subjects_request ON request_log_subjects(tenant_id, request_id);

CREATE TABLE compliance_reports (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT,
    kind         TEXT NOT NULL,
    period_from  BIGINT NOT NULL,
    period_to    BIGINT NOT NULL,
    subject_hash TEXT,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    document     TEXT NOT NULL
);
CREATE INDEX compliance_reports_tenant ON compliance_reports(tenant_id, created_at);
