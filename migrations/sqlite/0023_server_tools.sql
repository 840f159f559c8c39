-- Server-side tools (a web search or fetch the provider runs) are refused
-- unless a platform admin allows them per model: at most max_uses uses per
-- tool in a request, each held as tokens_per_use input tokens against hard
-- budgets. Each use is priced by the model's price version.
ALTER TABLE models ADD COLUMN server_tool_max_uses BIGINT NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN server_tool_tokens_per_use BIGINT NOT NULL DEFAULT 0;
ALTER TABLE model_prices ADD COLUMN server_tool_use_micros BIGINT NOT NULL DEFAULT 0;
