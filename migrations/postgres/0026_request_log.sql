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

-- The same row level security as usage_events (migration 0003); erasing a
-- subject clears the end user on their ledger rows, so tenants may update.
GRANT UPDATE ON usage_events TO atrium_tenant;
GRANT SELECT, INSERT, DELETE ON request_log TO atrium_tenant;
ALTER TABLE request_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE request_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON request_log
    USING (tenant_id = current_setting('atrium.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('atrium.tenant_id', true));
GRANT SELECT, INSERT, DELETE ON request_log_subjects TO atrium_tenant;
ALTER TABLE request_log_subjects ENABLE ROW LEVEL SECURITY;
ALTER TABLE request_log_subjects FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON request_log_subjects
    USING (tenant_id = current_setting('atrium.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('atrium.tenant_id', true));
