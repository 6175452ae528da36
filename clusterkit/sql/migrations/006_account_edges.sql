-- The account graph of a score run: pairs linked by co-activity (same clusters in the same time
-- windows) and shared rare infrastructure, with the weight that passed the edge threshold.
CREATE TABLE account_edges (
    run_id      BIGINT NOT NULL,
    account_a   VARCHAR NOT NULL,
    account_b   VARCHAR NOT NULL,
    coactivity  DOUBLE NOT NULL,
    infra       DOUBLE NOT NULL,
    weight      DOUBLE NOT NULL
);
