-- Which accounts sent which prompts, and the mined template each prompt belongs to, if any
-- (needs _req from account_signals.sql and _affix from mined_affixes.sql).
SELECT r.account_id, r.prompt_hash, count(*) AS n, any_value(a.template) AS template
FROM _req AS r
LEFT JOIN _affix AS a USING (prompt_hash)
GROUP BY 1, 2
ORDER BY 1, 2;
