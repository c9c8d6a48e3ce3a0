-- Bookkeeping of the ingestion services (bridge and parser).
--
-- None of this is a projection of the log: it is the services' own memory of what they have
-- already written to it, so that a restart, a re-delivered notification or a re-listed object
-- writes nothing twice, and so that a file processed again is decided exactly as before.

-- What the bridge has published, by object version. A row is written only after the broker
-- acknowledged the event, so a crash in between publishes again, with the same event id.
CREATE TABLE bridge_published (
    bucket        text        NOT NULL,
    key           text        NOT NULL,
    etag          text        NOT NULL,
    upload_id     bytea       NOT NULL CHECK (length(upload_id) = 32),
    outcome       text        NOT NULL CHECK (outcome IN ('observed', 'rejected')),
    reason        text,
    discovery     text        NOT NULL,
    published_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, key, etag)
);

-- Next offset per partition of the consumers that are not projections (the parser). Written
-- after everything produced for the records before it was acknowledged.
CREATE TABLE consumer_checkpoints (
    consumer     text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL CHECK (partition >= 0),
    next_offset  bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);

-- One admission decision per upload (the daily rate limit by trust). The decision is taken
-- once, before the first row is emitted, and reused whenever the file is processed again, so a
-- crash half-way through a file can never change which rows are admitted.
CREATE TABLE parser_admissions (
    upload_id        bytea       PRIMARY KEY CHECK (length(upload_id) = 32),
    miner_hotkey     text        NOT NULL,
    utc_day          integer     NOT NULL,
    trust_used       double precision NOT NULL CHECK (trust_used BETWEEN 0 AND 1),
    daily_limit      bigint      NOT NULL CHECK (daily_limit >= 0),
    admitted_before  bigint      NOT NULL CHECK (admitted_before >= 0),
    -- set when the file is done: parsed (with its counts) or dead-lettered
    outcome          text        CHECK (outcome IN ('parsed', 'dead_lettered')),
    admitted         bigint      CHECK (admitted >= 0),
    rate_limited     bigint      CHECK (rate_limited >= 0),
    decided_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);

CREATE INDEX parser_admissions_miner_day ON parser_admissions (miner_hotkey, utc_day);
