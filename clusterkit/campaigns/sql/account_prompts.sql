-- Which accounts sent which prompts (needs _req from account_signals.sql).
SELECT account_id, prompt_hash, count(*) AS n FROM _req GROUP BY 1, 2 ORDER BY 1, 2;
