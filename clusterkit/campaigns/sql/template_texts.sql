-- For every mined template (_affix, from mined_affixes.sql): its number of distinct prompts and up
-- to $sample of their texts (lower case, whitespace collapsed, as mined), to find the whole fixed part.
SELECT a.template, count(*) AS n_prompts,
       list(lower(regexp_replace(trim(p.text), '\s+', ' ', 'g')) ORDER BY p.prompt_hash)[1:$sample] AS texts
FROM _affix AS a
JOIN prompts AS p USING (prompt_hash)
GROUP BY 1
ORDER BY 1;
