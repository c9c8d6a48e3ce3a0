-- The partition count each keyed topic had when the system first used it. Producers place a key
-- by hashing it modulo the count, so a changed count moves existing keys: a listing's events
-- would then sit in two partitions, folded by two lanes in no common order. Every service that
-- produces or consumes a keyed topic compares the broker's count with this one at start and
-- refuses to run if they differ.
CREATE TABLE topic_partitions (
    topic        text        PRIMARY KEY,
    partitions   integer     NOT NULL CHECK (partitions > 0),
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
