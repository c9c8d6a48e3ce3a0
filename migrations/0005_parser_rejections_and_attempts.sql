-- The parser reads epoch JSON documents, which name their miner, epoch and zipcode: a
-- document that contradicts its key is rejected as a whole, like a bad key at the bridge, and
-- its admission decision ends with that outcome.
ALTER TABLE parser_admissions DROP CONSTRAINT parser_admissions_outcome_check;
ALTER TABLE parser_admissions ADD CONSTRAINT parser_admissions_outcome_check
    CHECK (outcome IN ('parsed', 'dead_lettered', 'rejected'));

-- Starts of reading an upload that did not end in the process that began them (it was killed,
-- out of memory say): a file that keeps doing that is dead-lettered instead of read forever.
ALTER TABLE parser_admissions
    ADD COLUMN parse_attempts integer NOT NULL DEFAULT 0 CHECK (parse_attempts >= 0);
