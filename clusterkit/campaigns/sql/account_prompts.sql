-- Which accounts sent which prompts, the prompt's near-duplicate family (-1: none), cluster, script
-- (prompts.language) and the mined template it belongs to, if any (needs _req from
-- account_signals.sql and _affix from mined_affixes.sql).
SELECT r.account_id, r.prompt_hash, count(*) AS n, any_value(r.dup_group) AS family, any_value(r.cluster) AS cluster,
       any_value(p.language) AS language, any_value(a.template) AS template
FROM _req AS r
JOIN prompts AS p USING (prompt_hash)
LEFT JOIN _affix AS a USING (prompt_hash)
GROUP BY 1, 2
ORDER BY 1, 2;
