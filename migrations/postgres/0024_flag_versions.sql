-- Each flag row carries the control-plane version of its last write, so a
-- replica's cache reloads only the rows past the version it holds instead
-- of every flag of every tenant on any change. Rows from before are 0 and
-- come with the first full load.
ALTER TABLE flags ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX flags_version ON flags(version);
