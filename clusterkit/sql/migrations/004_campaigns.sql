-- Campaign detection results, keyed by the score run (whose parent is the cluster run).
CREATE TABLE account_scores (
    run_id      BIGINT NOT NULL,
    account_id  VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    flagged     BOOLEAN NOT NULL,
    campaign_id VARCHAR,
    reasons     VARCHAR NOT NULL,
    n_requests  BIGINT NOT NULL,
    signals     JSON NOT NULL
);

CREATE TABLE campaigns (
    run_id      BIGINT NOT NULL,
    campaign_id VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    flagged     BOOLEAN NOT NULL,
    n_accounts  INTEGER NOT NULL,
    n_requests  BIGINT NOT NULL,
    first_seen  TIMESTAMPTZ,
    last_seen   TIMESTAMPTZ,
    signals     VARCHAR[] NOT NULL,
    evidence    JSON NOT NULL,
    keywords    VARCHAR[] NOT NULL,
    examples    VARCHAR[] NOT NULL,
    PRIMARY KEY (run_id, campaign_id)
);
