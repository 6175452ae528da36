-- Calibrated confidence of each candidate campaign (clusterkit.campaigns.calibrate): p-value against
-- matched random groups of the log's ordinary accounts, Benjamini-Hochberg q-value over the
-- candidates of its pass, and the number of groups expected to score as high by chance.
-- NULL where the log was too small to calibrate on or a fixed threshold was asked for.
ALTER TABLE campaigns ADD COLUMN p_value DOUBLE;
ALTER TABLE campaigns ADD COLUMN q_value DOUBLE;
ALTER TABLE campaigns ADD COLUMN expected_false_groups DOUBLE;
