-- Signals of every cluster and every near-duplicate family of cluster run $cluster_run for score
-- run $run_id: who works it, how evenly, whether accounts send disjoint prompts (a coverage sweep)
-- or the same ones (popularity), whether they work it at the same hours, and how much of it comes
-- from flagged accounts. A coverage sweep: three or more accounts, each sending five or more mostly
-- distinct prompts, with even load.
INSERT INTO group_signals (run_id, kind, group_key, n_accounts, n_requests, n_prompts, prompt_diversity,
                           load_evenness, top_account_share, synchrony, flagged_share, pattern)
WITH req AS (
    SELECT r.account_id, r.prompt_hash, date_trunc('hour', r.ts) AS hour, l.cluster, l.dup_group,
           coalesce(s.flagged, false) AS flagged
    FROM requests AS r
    JOIN cluster_labels AS l ON l.run_id = $cluster_run AND l.prompt_hash = r.prompt_hash
    LEFT JOIN account_scores AS s ON s.run_id = $run_id AND s.account_id = r.account_id
),
keyed AS (
    SELECT 'cluster' AS kind, cluster AS group_key, * EXCLUDE (cluster, dup_group) FROM req WHERE cluster >= 0
    UNION ALL
    SELECT 'template', dup_group, * EXCLUDE (cluster, dup_group) FROM req WHERE dup_group >= 0
),
per_account AS (
    SELECT kind, group_key, account_id, count(*) AS n FROM keyed GROUP BY 1, 2, 3
),
evenness AS (
    SELECT kind, group_key,
           CASE WHEN count(*) < 2 THEN 0
                ELSE -sum(n / total * ln(n / total)) / ln(count(*)) END AS load_evenness,
           max(n) / any_value(total) AS top_account_share
    FROM (SELECT *, sum(n) OVER (PARTITION BY kind, group_key) AS total FROM per_account)
    GROUP BY 1, 2
),
hours AS (
    SELECT kind, group_key, avg((n_acc >= 2)::INTEGER) AS synchrony
    FROM (SELECT kind, group_key, hour, count(DISTINCT account_id) AS n_acc FROM keyed GROUP BY 1, 2, 3)
    GROUP BY 1, 2
),
base AS (
    SELECT kind, group_key, count(DISTINCT account_id) AS n_accounts, count(*) AS n_requests,
           count(DISTINCT prompt_hash) AS n_prompts, count(DISTINCT prompt_hash) / count(*) AS prompt_diversity,
           avg(flagged::INTEGER) AS flagged_share
    FROM keyed GROUP BY 1, 2
)
SELECT $run_id, b.kind, b.group_key, b.n_accounts, b.n_requests, b.n_prompts, b.prompt_diversity,
       e.load_evenness, e.top_account_share, h.synchrony, b.flagged_share,
       CASE WHEN b.n_accounts <= 1 THEN 'single account'
            WHEN b.n_accounts >= 3 AND b.prompt_diversity < 0.5 THEN 'popularity'
            WHEN b.n_accounts >= 3 AND b.prompt_diversity >= 0.8 AND e.load_evenness >= 0.7
                 AND b.n_requests >= 5 * b.n_accounts THEN 'coverage sweep'
            WHEN b.n_requests < 2 * b.n_accounts THEN 'spread over casual accounts'
            ELSE 'mixed' END
FROM base AS b
JOIN evenness AS e USING (kind, group_key)
JOIN hours AS h USING (kind, group_key);
