-- When each run was last produced or reused: "the latest run" of a kind is the one the user last
-- asked for (a plain `score` that reuses an older run makes that run the latest again).
ALTER TABLE runs ADD COLUMN used_at TIMESTAMP;
UPDATE runs SET used_at = coalesce(finished_at, started_at);
