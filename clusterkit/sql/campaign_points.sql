-- Prompts sent by the accounts in _members (campaign_id, account_id), placed on the map of cluster
-- run $run_id, each with the member that sent it first; at most $budget per campaign (a sample by
-- hash; n_campaign_prompts counts them all).
SELECT *, count(*) OVER (PARTITION BY campaign_id) AS n_campaign_prompts FROM (
    SELECT m.campaign_id, r.prompt_hash, arg_min(r.account_id, r.ts) AS account_id, min(r.ts) AS first_ts,
           count(DISTINCT r.account_id) AS n_accounts, count(*) AS n_requests,
           any_value(pr.x) AS x, any_value(pr.y) AS y, any_value(l.cluster) AS cluster,
           substr(any_value(p.text), 1, 160) AS snippet
    FROM requests AS r
    JOIN _members AS m USING (account_id)
    JOIN projections AS pr ON pr.run_id = $run_id AND pr.prompt_hash = r.prompt_hash
    JOIN cluster_labels AS l ON l.run_id = $run_id AND l.prompt_hash = r.prompt_hash
    JOIN prompts AS p ON p.prompt_hash = r.prompt_hash
    GROUP BY m.campaign_id, r.prompt_hash
)
QUALIFY row_number() OVER (PARTITION BY campaign_id ORDER BY hash(prompt_hash)) <= $budget
ORDER BY campaign_id, account_id, prompt_hash;
