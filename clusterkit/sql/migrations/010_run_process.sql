-- The process that records a run: a run still 'running' whose process is gone (killed, machine
-- restarted) is marked 'interrupted' the next time the store is opened for writing.
ALTER TABLE runs ADD COLUMN pid INTEGER;
ALTER TABLE runs ADD COLUMN host VARCHAR;
