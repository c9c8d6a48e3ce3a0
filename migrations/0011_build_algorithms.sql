-- The algorithm a build runs and every parameter it runs with (defaults included), recorded
-- when the build first starts, so that a build's name is a label and what it computed can be
-- said exactly. NULL for projections without algorithms. Consensus builds made before run the
-- algorithm their name begins with (v1, v2), recorded at their next start.
ALTER TABLE projection_versions ADD COLUMN algorithm text;
ALTER TABLE projection_versions ADD COLUMN params jsonb;
