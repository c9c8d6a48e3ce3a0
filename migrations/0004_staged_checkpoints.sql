-- A projection that is far behind the log may stage what it consumes instead of folding it
-- record by record, and apply the staged records in one pass once it reaches the log's end
-- (the consensus projection decides each listing once instead of once per report).
--
-- staged_from is the first offset of a partition whose records are staged but not yet
-- applied; NULL when nothing is staged. Records before it are in the projection's tables,
-- records from it up to next_offset are in its staging table. Both move in the transaction
-- that stages or applies the records, so a crash loses nothing and applies nothing twice.
-- A version's lag counts staged records as not yet folded: it has caught up only when nothing
-- is staged.
ALTER TABLE projection_checkpoints
    ADD COLUMN staged_from bigint,
    ADD CONSTRAINT projection_checkpoints_staged_within
        CHECK (staged_from IS NULL OR staged_from BETWEEN 0 AND next_offset);
