-- Per-run artifacts of the semantic engine, keyed by run id so runs can be compared.
CREATE TABLE projections (
    run_id      BIGINT NOT NULL,
    prompt_hash VARCHAR NOT NULL,
    x           FLOAT NOT NULL,
    y           FLOAT NOT NULL,
    coords      FLOAT[] NOT NULL
);

CREATE TABLE cluster_labels (
    run_id      BIGINT NOT NULL,
    prompt_hash VARCHAR NOT NULL,
    cluster     INTEGER NOT NULL,
    probability FLOAT NOT NULL,
    dup_group   INTEGER NOT NULL
);

CREATE TABLE clusters (
    run_id          BIGINT NOT NULL,
    cluster         INTEGER NOT NULL,
    n_prompts       INTEGER NOT NULL,
    n_requests      BIGINT NOT NULL,
    n_accounts      BIGINT NOT NULL,
    first_seen      TIMESTAMPTZ,
    last_seen       TIMESTAMPTZ,
    keywords        VARCHAR[] NOT NULL,
    representatives VARCHAR[] NOT NULL,
    PRIMARY KEY (run_id, cluster)
);
