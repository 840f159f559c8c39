-- A serving pool's engines sit in a region, like any provider, and a
-- tenant only reaches them under the data-location rule. Pools made before
-- keep serving every region ('any'), as their engines did.
ALTER TABLE serving_pools ADD COLUMN region TEXT NOT NULL DEFAULT 'any';
