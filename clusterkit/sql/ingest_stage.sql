CREATE OR REPLACE TEMP TABLE _stage_requests (
    seq BIGINT, request_id VARCHAR, account_id VARCHAR, ts TIMESTAMPTZ, prompt_hash VARCHAR,
    text VARCHAR, context VARCHAR, system_hash VARCHAR, system_text VARCHAR, model VARCHAR, org_id VARCHAR,
    ip VARCHAR, user_agent VARCHAR, extra VARCHAR, source VARCHAR, line BIGINT, row_hash VARCHAR
);
CREATE OR REPLACE TEMP TABLE _stage_quarantine (
    source VARCHAR, line BIGINT, reason VARCHAR, detail VARCHAR, raw VARCHAR
);
