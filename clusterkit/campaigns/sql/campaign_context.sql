-- Capability areas and example prompts of each campaign: the keywords of the clusters where its
-- requests concentrate and the prompts it sent most (needs _members: campaign_id, account_id).
WITH req AS (
    SELECT m.campaign_id, r.prompt_hash, l.cluster
    FROM _members AS m
    JOIN requests AS r USING (account_id)
    JOIN cluster_labels AS l ON l.run_id = $run_id AND l.prompt_hash = r.prompt_hash
),
top_clusters AS (
    SELECT campaign_id, cluster, count(*) AS n,
           row_number() OVER (PARTITION BY campaign_id ORDER BY count(*) DESC, cluster) AS rk
    FROM req WHERE cluster >= 0 GROUP BY 1, 2
),
kw AS (
    SELECT t.campaign_id, flatten(list(c.keywords[1:4] ORDER BY t.rk)) AS keywords
    FROM top_clusters AS t
    JOIN clusters AS c ON c.run_id = $run_id AND c.cluster = t.cluster
    WHERE t.rk <= 3
    GROUP BY 1
),
ex AS (
    SELECT campaign_id, list(text ORDER BY n DESC, prompt_hash)[1:3] AS examples
    FROM (
        SELECT q.campaign_id, q.prompt_hash, any_value(p.text) AS text, count(*) AS n,
               row_number() OVER (PARTITION BY q.campaign_id ORDER BY count(*) DESC, q.prompt_hash) AS rk
        FROM req AS q JOIN prompts AS p USING (prompt_hash)
        GROUP BY 1, 2
    )
    WHERE rk <= 3
    GROUP BY 1
)
SELECT m.campaign_id, coalesce(any_value(kw.keywords), []::VARCHAR[]) AS keywords,
       coalesce(any_value(ex.examples), []::VARCHAR[]) AS examples
FROM (SELECT DISTINCT campaign_id FROM _members) AS m
LEFT JOIN kw USING (campaign_id)
LEFT JOIN ex USING (campaign_id)
GROUP BY m.campaign_id
ORDER BY m.campaign_id;
