-- Cluster descriptions of one run: sizes and time span from the requests, keywords and
-- representative prompts from _desc (registered by the caller). Noise (-1) gets a row too.
INSERT INTO clusters (run_id, cluster, n_prompts, n_requests, n_accounts, first_seen, last_seen, keywords, representatives)
SELECT $run_id, l.cluster,
       count(DISTINCT l.prompt_hash),
       count(r.request_id),
       count(DISTINCT r.account_id),
       min(r.ts), max(r.ts),
       coalesce(any_value(d.keywords), []::VARCHAR[]),
       coalesce(any_value(d.representatives), []::VARCHAR[])
FROM cluster_labels AS l
LEFT JOIN requests AS r USING (prompt_hash)
LEFT JOIN _desc AS d ON d.cluster = l.cluster
WHERE l.run_id = $run_id
GROUP BY l.cluster;
