-- What the accounts in _members (campaign_id, account_id) did under cluster run $run_id: requests per
-- account, semantic cluster, near-duplicate family and time bucket ($bucket seconds), with one example
-- prompt per family.
SELECT m.campaign_id, r.account_id, l.cluster, l.dup_group,
       to_timestamp(floor(epoch(r.ts) / $bucket) * $bucket) AS bucket,
       count(*) AS n, min(r.prompt_hash) AS example_hash
FROM requests AS r
JOIN _members AS m USING (account_id)
JOIN cluster_labels AS l ON l.run_id = $run_id AND l.prompt_hash = r.prompt_hash
GROUP BY ALL
ORDER BY ALL;
