-- Activity cells of every account for run $run_id (needs _req from account_signals.sql):
-- (account, semantic cluster, time window) with requests and distinct prompts.
SELECT account_id, cluster, CAST(floor(t / $window) AS BIGINT) AS window, count(*) AS n,
       count(DISTINCT prompt_hash) AS n_prompts
FROM _req
WHERE cluster >= 0
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
