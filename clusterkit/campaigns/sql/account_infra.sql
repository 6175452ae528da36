-- Which infrastructure values (IP /24 or /48 prefix, client, organisation, system prompt, request
-- shape: the body parameters sent) each
-- account used and how often (needs _req from account_signals.sql). Hydra networks rotate many
-- prefixes and clients over many accounts, so accounts are compared on these sets, not on one value.
SELECT account_id, 'ip_prefix' AS kind, ip_prefix AS value, count(*) AS n FROM _req WHERE ip_prefix IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT account_id, 'user_agent', user_agent, count(*) FROM _req WHERE user_agent IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT account_id, 'org_id', org_id, count(*) FROM _req WHERE org_id IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT account_id, 'system_hash', system_hash, count(*) FROM _req WHERE system_hash IS NOT NULL GROUP BY 1, 3
UNION ALL
SELECT account_id, 'request_shape', request_shape, count(*) FROM _req WHERE request_shape IS NOT NULL GROUP BY 1, 3
ORDER BY 1, 2, 3;
