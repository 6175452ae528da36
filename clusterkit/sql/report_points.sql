-- Points of the prompt map of cluster run $run_id: one per prompt, with the account that sent it
-- first, how many accounts sent it, when it was first seen and whether an account flagged by
-- score run $score_run sent it. Above $budget points, every flagged point is kept (up to
-- $flag_budget of them) and the rest is a deterministic sample (by prompt hash).
WITH sent AS (
    SELECT prompt_hash, arg_min(account_id, ts) AS account_id, min(ts) AS first_ts,
           count(DISTINCT account_id) AS n_accounts, count(*) AS n_requests
    FROM requests GROUP BY 1
),
flagged AS (
    SELECT DISTINCT r.prompt_hash
    FROM requests AS r
    JOIN account_scores AS a ON a.run_id = $score_run AND a.account_id = r.account_id AND a.flagged
),
points AS (
    SELECT pr.prompt_hash, pr.x, pr.y, l.cluster, substr(p.text, 1, 160) AS snippet, s.account_id, s.first_ts,
           s.n_accounts, s.n_requests, f.prompt_hash IS NOT NULL AS flagged
    FROM projections AS pr
    JOIN cluster_labels AS l USING (run_id, prompt_hash)
    JOIN prompts AS p USING (prompt_hash)
    JOIN sent AS s USING (prompt_hash)
    LEFT JOIN flagged AS f USING (prompt_hash)
    WHERE pr.run_id = $run_id
)
SELECT * FROM points
QUALIFY row_number() OVER (PARTITION BY flagged ORDER BY hash(prompt_hash))
        <= CASE WHEN flagged THEN $flag_budget ELSE $budget END
ORDER BY prompt_hash;
