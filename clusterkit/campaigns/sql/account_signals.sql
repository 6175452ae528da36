-- Per-account signals of one cluster run ($run_id), all computed here rather than in Python loops.
-- Needs _affix (mined_affixes.sql) for the same run.
CREATE OR REPLACE TEMP TABLE _req AS
SELECT r.account_id, r.ts, epoch(r.ts) AS t, r.prompt_hash, r.model, r.user_agent, r.org_id, r.system_hash,
       CASE WHEN contains(r.ip, ':') THEN array_to_string(string_split(r.ip, ':')[1:3], ':')
            ELSE regexp_extract(r.ip, '^(\d+\.\d+\.\d+)\.\d+$', 1) END AS ip_prefix,
       l.cluster, l.dup_group,
       -- the request's shape: its body parameters (max_tokens, temperature, tools, ...) as sent
       -- (none when none were sent: having no parameters is not a value accounts share)
       CASE WHEN coalesce(CAST((r.extra->'request_params') AS VARCHAR), 'null') IN ('null', '{}') THEN NULL
            ELSE md5(CAST((r.extra->'request_params') AS VARCHAR)) END AS request_shape
FROM requests AS r
JOIN cluster_labels AS l ON l.run_id = $run_id AND l.prompt_hash = r.prompt_hash;

CREATE OR REPLACE TEMP TABLE _prompt_pop AS
SELECT prompt_hash, count(DISTINCT account_id) AS n_accounts FROM _req GROUP BY 1;

CREATE OR REPLACE TEMP TABLE _dup_size AS
SELECT dup_group, count(DISTINCT prompt_hash) AS n_prompts
FROM cluster_labels WHERE run_id = $run_id AND dup_group >= 0 GROUP BY 1;

CREATE OR REPLACE TEMP TABLE _gaps AS
SELECT account_id, t - lag(t) OVER (PARTITION BY account_id ORDER BY t, prompt_hash) AS gap FROM _req;

CREATE OR REPLACE TEMP TABLE _hours AS
SELECT account_id, hour(ts) AS h, count(*) AS c FROM _req GROUP BY 1, 2;

-- Models first seen more than a day after the log starts count as released during it; per account,
-- hours from such a release to the account's first request to it (the fastest, if several).
CREATE OR REPLACE TEMP TABLE _pivot AS
WITH released AS (
    SELECT model, min(t) AS t_release FROM _req WHERE model IS NOT NULL GROUP BY 1
    HAVING min(t) > (SELECT min(t) FROM _req) + 86400
)
SELECT r.account_id, min(first_use - m.t_release) / 3600.0 AS pivot_hours
FROM (SELECT account_id, model, min(t) AS first_use FROM _req GROUP BY 1, 2) AS r
JOIN released AS m USING (model)
GROUP BY 1;

CREATE OR REPLACE TEMP TABLE _infra AS
WITH modes AS (
    SELECT account_id,
           mode(user_agent) AS user_agent, mode(ip_prefix) AS ip_prefix,
           mode(org_id) AS org_id, mode(system_hash) AS system_hash
    FROM _req GROUP BY 1
)
SELECT m.*,
       count(*) OVER (PARTITION BY m.user_agent) AS ua_accounts,
       count(*) OVER (PARTITION BY m.ip_prefix) AS ip_accounts,
       count(*) OVER (PARTITION BY m.org_id) AS org_accounts,
       count(*) OVER (PARTITION BY m.system_hash) AS sys_accounts
FROM modes AS m;

SELECT a.account_id, a.n_req, a.n_prompts, a.first_ts, a.last_ts, a.span_hours, a.n_clusters, a.noise_share,
       a.top_cluster_share, a.unique_share, a.popular_share, a.template_share,
       coalesce(h.hour_entropy, 0) AS hour_entropy,
       coalesce(g.gap_cv, 0) AS gap_cv, coalesce(g.gap_median, 0) AS gap_median, pv.pivot_hours,
       i.user_agent, i.ip_prefix, i.org_id, i.system_hash,
       CASE WHEN i.user_agent IS NULL THEN 0 ELSE i.ua_accounts - 1 END AS ua_peers,
       CASE WHEN i.ip_prefix IS NULL THEN 0 ELSE i.ip_accounts - 1 END AS ip_peers,
       CASE WHEN i.org_id IS NULL THEN 0 ELSE i.org_accounts - 1 END AS org_peers,
       CASE WHEN i.system_hash IS NULL THEN 0 ELSE i.sys_accounts - 1 END AS sys_peers
FROM (
    SELECT r.account_id,
           count(*) AS n_req,
           count(DISTINCT r.prompt_hash) AS n_prompts,
           min(r.ts) AS first_ts, max(r.ts) AS last_ts,
           (max(r.t) - min(r.t)) / 3600.0 AS span_hours,
           count(DISTINCT r.cluster) FILTER (WHERE r.cluster >= 0) AS n_clusters,
           avg((r.cluster < 0)::INTEGER) AS noise_share,
           max(c.share) AS top_cluster_share,
           avg((p.n_accounts = 1)::INTEGER) AS unique_share,
           avg((p.n_accounts >= 3)::INTEGER) AS popular_share,
           avg((coalesce(d.n_prompts, 1) >= 3 OR af.template IS NOT NULL)::INTEGER) AS template_share
    FROM _req AS r
    JOIN _prompt_pop AS p USING (prompt_hash)
    LEFT JOIN _dup_size AS d USING (dup_group)
    LEFT JOIN _affix AS af USING (prompt_hash)
    LEFT JOIN (
        SELECT account_id, cluster, count(*) / sum(count(*)) OVER (PARTITION BY account_id) AS share
        FROM _req WHERE cluster >= 0 GROUP BY 1, 2
    ) AS c ON c.account_id = r.account_id AND c.cluster = r.cluster
    GROUP BY r.account_id
) AS a
LEFT JOIN (
    SELECT account_id, -sum(c / n * ln(c / n)) / ln(24) AS hour_entropy
    FROM (SELECT account_id, c, sum(c) OVER (PARTITION BY account_id) AS n FROM _hours)
    GROUP BY 1
) AS h USING (account_id)
LEFT JOIN (
    SELECT account_id, stddev_pop(gap) / nullif(avg(gap), 0) AS gap_cv, median(gap) AS gap_median
    FROM _gaps WHERE gap IS NOT NULL GROUP BY 1 HAVING count(*) >= 3
) AS g USING (account_id)
LEFT JOIN _infra AS i USING (account_id)
LEFT JOIN _pivot AS pv USING (account_id)
ORDER BY a.account_id;
