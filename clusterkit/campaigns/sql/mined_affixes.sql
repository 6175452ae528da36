-- Templates mined from the prompts of cluster run $run_id (CREATE TEMP TABLE _affix): a prompt is templated
-- when its first or last 40 characters (lower case, spaces collapsed) are shared by at least
-- $min_family distinct prompts of 100+ characters that differ elsewhere: a wrapper around varying
-- content, such as a grading rubric or a reasoning instruction appended to different questions.
-- A later turn of a conversation is a *scripted follow-up* (template intent.FOLLOW_UP || its first 40 characters
-- || ' …') at any length when $min_family distinct conversations send it: its earlier turns are the
-- varying content ("now give a harder variant", "translate your answer to German").
CREATE OR REPLACE TEMP TABLE _affix AS
WITH t AS (
    SELECT prompt_hash, lower(regexp_replace(trim(text), '\s+', ' ', 'g')) AS s, context IS NOT NULL AS later_turn
    FROM prompts WHERE prompt_hash IN (SELECT prompt_hash FROM cluster_labels WHERE run_id = $run_id)
),
parts AS (SELECT prompt_hash, left(s, 40) AS head, right(s, 40) AS tail FROM t WHERE length(s) >= 100),
heads AS (SELECT head, count(*) AS n_head FROM parts GROUP BY 1 HAVING count(*) >= $min_family),
tails AS (SELECT tail, count(*) AS n_tail FROM parts GROUP BY 1 HAVING count(*) >= $min_family),
wrapped AS (
    SELECT p.prompt_hash,
           CASE WHEN coalesce(h.n_head, 0) >= coalesce(tl.n_tail, 0) THEN h.head || ' …' ELSE '… ' || tl.tail END AS template
    FROM parts AS p
    LEFT JOIN heads AS h USING (head)
    LEFT JOIN tails AS tl USING (tail)
    WHERE h.head IS NOT NULL OR tl.tail IS NOT NULL
),
turns AS (
    SELECT prompt_hash, left(s, 40) AS turn FROM t
    WHERE later_turn AND prompt_hash NOT IN (SELECT prompt_hash FROM wrapped)
),
scripted AS (SELECT turn FROM turns GROUP BY 1 HAVING count(*) >= $min_family)
SELECT prompt_hash, template FROM wrapped
UNION ALL
SELECT prompt_hash, $follow_up || turn || ' …' AS template FROM turns JOIN scripted USING (turn);
