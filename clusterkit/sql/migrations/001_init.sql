-- Foundation schema: runs, prompts, system prompts, requests and the quarantine.
CREATE SEQUENCE run_id_seq START 1;

CREATE TABLE runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('run_id_seq'),
    kind          VARCHAR NOT NULL,
    parent_run_id BIGINT,
    params        JSON,
    versions      JSON,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    timings       JSON,
    stats         JSON,
    status        VARCHAR NOT NULL
);

CREATE TABLE prompts (
    prompt_hash  VARCHAR PRIMARY KEY,
    text         VARCHAR NOT NULL,
    n_chars      INTEGER NOT NULL,
    language     VARCHAR,
    first_run_id BIGINT NOT NULL
);

CREATE TABLE system_prompts (
    system_hash  VARCHAR PRIMARY KEY,
    text         VARCHAR NOT NULL,
    n_chars      INTEGER NOT NULL,
    first_run_id BIGINT NOT NULL
);

CREATE TABLE requests (
    request_id  VARCHAR PRIMARY KEY,
    account_id  VARCHAR NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    prompt_hash VARCHAR NOT NULL,
    model       VARCHAR,
    org_id      VARCHAR,
    ip          VARCHAR,
    user_agent  VARCHAR,
    system_hash VARCHAR,
    extra       JSON,
    source      VARCHAR NOT NULL,
    line        BIGINT NOT NULL,
    row_hash    VARCHAR NOT NULL,
    run_id      BIGINT NOT NULL
);

CREATE TABLE quarantine (
    source  VARCHAR NOT NULL,
    line    BIGINT NOT NULL,
    reason  VARCHAR NOT NULL,
    detail  VARCHAR,
    raw     VARCHAR,
    run_id  BIGINT NOT NULL,
    PRIMARY KEY (source, line, reason)
);
