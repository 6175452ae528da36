-- The mined templates (_affix, from mined_affixes.sql) the accounts in _members used most, per campaign.
SELECT * FROM (
    SELECT m.campaign_id, a.template, count(*) AS n_requests, count(DISTINCT r.prompt_hash) AS n_prompts,
           count(DISTINCT r.account_id) AS n_accounts
    FROM requests AS r
    JOIN _members AS m USING (account_id)
    JOIN _affix AS a USING (prompt_hash)
    GROUP BY 1, 2
)
QUALIFY row_number() OVER (PARTITION BY campaign_id ORDER BY n_requests DESC, template) <= $top
ORDER BY campaign_id, n_requests DESC, template;
