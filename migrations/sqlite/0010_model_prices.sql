-- Prices with history: a price change is a new version with the time it
-- takes effect, so usage is always priced with the version in force when
-- the request was made and past months re-price to the same money. The
-- versions in force today are those the models table recorded; they have
-- applied since the beginning (effective_from 0).
CREATE TABLE model_prices (
    model_id                    TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    effective_from              BIGINT NOT NULL,
    input_micros_per_mtok       BIGINT NOT NULL,
    output_micros_per_mtok      BIGINT NOT NULL,
    cache_read_micros_per_mtok  BIGINT NOT NULL,
    cache_write_micros_per_mtok BIGINT NOT NULL,
    created_at                  BIGINT NOT NULL,
    PRIMARY KEY (model_id, effective_from)
);
INSERT INTO model_prices (model_id, effective_from, input_micros_per_mtok, output_micros_per_mtok,
    cache_read_micros_per_mtok, cache_write_micros_per_mtok, created_at)
SELECT id, 0, input_micros_per_mtok, output_micros_per_mtok, cache_read_micros_per_mtok,
    cache_write_micros_per_mtok, created_at FROM models;
