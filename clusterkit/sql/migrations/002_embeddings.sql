-- Embedding cache: one row per model id; each model's vectors live in their own table
-- (emb_<model_key>) as fixed-size FLOAT[dim] arrays keyed by prompt hash.
CREATE TABLE embedding_models (
    model_key  INTEGER PRIMARY KEY,
    model_id   VARCHAR NOT NULL UNIQUE,
    dim        INTEGER NOT NULL,
    max_tokens INTEGER,
    created_at TIMESTAMPTZ NOT NULL
);
