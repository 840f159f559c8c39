-- A plan's default monthly budget (hard or soft), given to each tenant that
-- moves onto the plan, like its default rpm and tpm.
ALTER TABLE plans ADD COLUMN budget_micros BIGINT;
ALTER TABLE plans ADD COLUMN budget_enforcement TEXT;
