-- Templates mined from the prompts of cluster run $run_id (CREATE TEMP TABLE _affix): a wrapper
-- around varying content, such as a grading rubric or a reasoning instruction set before or after
-- different questions. A prompt is templated when
--   * its first or last 40 characters (lower case, spaces collapsed) are shared by at least
--     $min_family distinct prompts of 100+ characters that differ elsewhere (a long fixed head or
--     tail), or
--   * its first or last line (of two or more; $min_line to 300 characters) is shared, whole, by at
--     least $min_line_family distinct prompts: a wrapper of one short sentence, or one of many
--     phrasings of the same request, each too rare or too short for the 40-character rule.
-- A prompt in several keeps the one most prompts share (a 40-character rule first on ties).
-- A later turn of a conversation is a *scripted follow-up* (template intent.FOLLOW_UP || its first 40 characters
-- || ' …') at any length when $min_line_family distinct conversations send it (a whole turn, as rare
-- by chance as a whole line): its earlier turns are the varying content ("now give a harder
-- variant", "translate your answer to German").
CREATE OR REPLACE TEMP TABLE _affix AS
WITH base AS (
    SELECT prompt_hash, text, context IS NOT NULL AS later_turn
    FROM prompts WHERE prompt_hash IN (SELECT prompt_hash FROM cluster_labels WHERE run_id = $run_id)
),
t AS (SELECT prompt_hash, lower(regexp_replace(trim(text), '\s+', ' ', 'g')) AS s, later_turn FROM base),
parts AS (SELECT prompt_hash, left(s, 40) AS head, right(s, 40) AS tail FROM t WHERE length(s) >= 100),
-- (only the first and last non-blank lines are normalised: a long prompt has many lines)
lines AS (
    SELECT prompt_hash, list_filter(string_split(text, chr(10)), lambda x: trim(x) <> '') AS ls FROM base
),
ends AS (
    SELECT prompt_hash, 0 AS kind, ls[1] AS line FROM lines WHERE len(ls) >= 2
    UNION ALL
    SELECT prompt_hash, 1 AS kind, ls[-1] AS line FROM lines WHERE len(ls) >= 2
),
normalised AS (SELECT prompt_hash, kind, lower(regexp_replace(trim(line), '\s+', ' ', 'g')) AS line FROM ends),
-- (kind: 0 a head, 1 a tail; rule: 0 the 40-character rule, 1 whole lines)
candidate AS (
    SELECT prompt_hash, 0 AS kind, 0 AS rule, head AS fixed, count(*) OVER (PARTITION BY head) AS n FROM parts
    UNION ALL
    SELECT prompt_hash, 1, 0, tail, count(*) OVER (PARTITION BY tail) FROM parts
    UNION ALL
    SELECT prompt_hash, kind, 1, line, count(*) OVER (PARTITION BY kind, line) FROM normalised
    WHERE length(line) BETWEEN $min_line AND 300
),
wrapped AS (
    SELECT prompt_hash, CASE WHEN kind = 0 THEN fixed || ' …' ELSE '… ' || fixed END AS template
    FROM candidate
    WHERE n >= CASE WHEN rule = 0 THEN $min_family ELSE $min_line_family END
    QUALIFY row_number() OVER (PARTITION BY prompt_hash ORDER BY n DESC, rule, kind) = 1
),
turns AS (
    SELECT prompt_hash, left(s, 40) AS turn FROM t
    WHERE later_turn AND prompt_hash NOT IN (SELECT prompt_hash FROM wrapped)
),
scripted AS (SELECT turn FROM turns GROUP BY 1 HAVING count(*) >= $min_line_family)
SELECT prompt_hash, template FROM wrapped
UNION ALL
SELECT prompt_hash, $follow_up || turn || ' …' AS template FROM turns JOIN scripted USING (turn);
