-- SOC 2 access evidence (CC6.1-6.3): who created each user, when they last
-- signed in and changed their password, when they left (a leaver's access
-- must end within 24 hours of left_at), TOTP MFA (RFC 6238) with one-time
-- recovery codes, the roles that must use it, and access reviews.
ALTER TABLE users ADD COLUMN created_by TEXT;
ALTER TABLE users ADD COLUMN last_sign_in_at BIGINT;
ALTER TABLE users ADD COLUMN password_changed_at BIGINT;
ALTER TABLE users ADD COLUMN left_at BIGINT;
ALTER TABLE users ADD COLUMN mfa_secret TEXT;
ALTER TABLE users ADD COLUMN mfa_enabled_at BIGINT;
ALTER TABLE users ADD COLUMN mfa_last_step BIGINT;
UPDATE users SET password_changed_at = created_at;

CREATE TABLE user_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_requirements (
    role       TEXT PRIMARY KEY,
    updated_at BIGINT NOT NULL
);

CREATE TABLE access_reviews (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT,
    started_at BIGINT NOT NULL,
    started_by TEXT NOT NULL,
    closed_at  BIGINT
);
CREATE INDEX access_reviews_tenant ON access_reviews(tenant_id, started_at);

CREATE TABLE access_review_items (
    review_id    TEXT NOT NULL REFERENCES access_reviews(id) ON DELETE CASCADE,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    label        TEXT NOT NULL,
    decision     TEXT,
    decided_by   TEXT,
    decided_at   BIGINT,
    PRIMARY KEY (review_id, subject_kind, subject_id)
);
