-- Which running parser began the open attempt at an upload. Counting a start again is then
-- idempotent for that parser: when Postgres goes away between the start and its end, the same
-- process reading the file again does not count a second start, and ending the attempt can be
-- repeated. Only a start by another process (the first one died) counts as a crash.
ALTER TABLE parser_admissions ADD COLUMN parse_attempt_by text;
