-- Classify every staged row against the store and against earlier rows with the same id:
-- 'new' (first of its id, not stored yet), 'duplicate' (same id, same content; or a request the
-- store already holds under another id - the same account, time, prompt, system prompt and model,
-- as when a log is ingested again with another --id mapping) or 'conflict' (same id, different
-- content: quarantined).
CREATE OR REPLACE TEMP TABLE _classified AS
SELECT s.*,
       CASE
           WHEN r.request_id IS NOT NULL AND r.row_hash = s.row_hash THEN 'duplicate'
           WHEN r.request_id IS NOT NULL THEN 'conflict'
           WHEN c.account_id IS NOT NULL THEN 'duplicate'
           WHEN s.rn = 1 THEN 'new'
           WHEN s.row_hash = s.first_hash THEN 'duplicate'
           ELSE 'conflict'
       END AS status,
       coalesce(r.source, s.first_source) AS kept_source,
       coalesce(r.line, s.first_line) AS kept_line
FROM (
    SELECT *,
           row_number() OVER w AS rn,
           first_value(row_hash) OVER w AS first_hash,
           first_value(source) OVER w AS first_source,
           first_value(line) OVER w AS first_line
    FROM _stage_requests
    WINDOW w AS (PARTITION BY request_id ORDER BY seq)
) AS s
LEFT JOIN requests AS r USING (request_id)
LEFT JOIN (
    SELECT DISTINCT account_id, ts, prompt_hash, system_hash, model
    FROM requests
    WHERE (account_id, ts) IN (SELECT account_id, ts FROM _stage_requests)
) AS c
    ON c.account_id = s.account_id AND c.ts = s.ts AND c.prompt_hash = s.prompt_hash
   AND c.system_hash IS NOT DISTINCT FROM s.system_hash AND c.model IS NOT DISTINCT FROM s.model;

INSERT INTO prompts (prompt_hash, text, n_chars, language, first_run_id, context)
SELECT prompt_hash, text, length(text),
       CASE
           WHEN regexp_matches(text, '[\p{Hiragana}\p{Katakana}]') THEN 'ja'
           WHEN regexp_matches(text, '\p{Hangul}') THEN 'ko'
           WHEN regexp_matches(text, '\p{Han}') THEN 'zh'
           WHEN regexp_matches(text, '\p{Cyrillic}') THEN 'ru'
           WHEN regexp_matches(text, '\p{Arabic}') THEN 'ar'
           WHEN regexp_matches(text, '\p{Latin}') THEN 'latin'
           ELSE 'other'
       END,
       $run_id, context
FROM (
    SELECT prompt_hash, arg_min(text, seq) AS text, arg_min(context, seq) AS context
    FROM _classified
    WHERE status = 'new'
    GROUP BY prompt_hash
) AS c
WHERE NOT EXISTS (SELECT 1 FROM prompts AS p WHERE p.prompt_hash = c.prompt_hash);

INSERT INTO system_prompts (system_hash, text, n_chars, first_run_id)
SELECT system_hash, text, length(text), $run_id
FROM (
    SELECT system_hash, arg_min(system_text, seq) AS text
    FROM _classified
    WHERE status = 'new' AND system_hash IS NOT NULL
    GROUP BY system_hash
) AS c
WHERE NOT EXISTS (SELECT 1 FROM system_prompts AS p WHERE p.system_hash = c.system_hash);

INSERT INTO requests (request_id, account_id, ts, prompt_hash, model, org_id, ip, user_agent, system_hash,
                      extra, source, line, row_hash, run_id)
SELECT request_id, account_id, ts, prompt_hash, model, org_id, ip, user_agent, system_hash,
       extra::JSON, source, line, row_hash, $run_id
FROM _classified
WHERE status = 'new'
ORDER BY seq;

INSERT INTO _stage_quarantine (source, line, reason, detail, raw)
SELECT source, line, 'duplicate_id_conflict',
       'request id ' || request_id || ' already holds different content'
           || ' (kept: ' || kept_source || ' line ' || kept_line || ')',
       to_json({request_id: request_id, account_id: account_id, ts: ts, text: text,
                system: system_text, model: model, org_id: org_id, ip: ip,
                user_agent: user_agent, extra: extra::JSON})::VARCHAR
FROM _classified
WHERE status = 'conflict';

INSERT INTO quarantine (source, line, reason, detail, raw, run_id)
SELECT source, line, reason, arg_min(detail, detail), arg_min(raw, raw), $run_id
FROM _stage_quarantine AS q
WHERE NOT EXISTS (
    SELECT 1 FROM quarantine AS k
    WHERE k.source = q.source AND k.line = q.line AND k.reason = q.reason
)
GROUP BY source, line, reason;
