-- Per-cluster and per-template (near-duplicate family) signals of a score run.
CREATE TABLE group_signals (
    run_id            BIGINT NOT NULL,
    kind              VARCHAR NOT NULL,
    group_key         INTEGER NOT NULL,
    n_accounts        BIGINT NOT NULL,
    n_requests        BIGINT NOT NULL,
    n_prompts         BIGINT NOT NULL,
    prompt_diversity  DOUBLE NOT NULL,
    load_evenness     DOUBLE NOT NULL,
    top_account_share DOUBLE NOT NULL,
    synchrony         DOUBLE NOT NULL,
    flagged_share     DOUBLE NOT NULL,
    pattern           VARCHAR NOT NULL
);
