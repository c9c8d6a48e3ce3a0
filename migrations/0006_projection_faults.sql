-- Partitions of a projection version that are not folding normally, written by the projector
-- while it is so and removed once the partition moves on: 'retrying' (a batch keeps failing for
-- a reason that is retried, e.g. the database refusing connections) or 'blocked' (an event of a
-- schema version newer than the projector reads: it waits for an upgrade rather than skip it).
-- The API's /ready reports a live version's partitions that have been so for too long, whatever
-- their lag.
CREATE TABLE projection_faults (
    projection  text        NOT NULL,
    version     text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL CHECK (partition >= 0),
    state       text        NOT NULL CHECK (state IN ('retrying', 'blocked')),
    detail      text        NOT NULL,
    since       timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, topic, partition),
    FOREIGN KEY (projection, version) REFERENCES projection_versions (projection, version) ON DELETE CASCADE
);

-- Events a projection version's database refused for what they hold (SQLSTATE classes 22 and
-- 23): isolated from their batch, which was folded without them, and dead-lettered. Written in
-- the transaction that folded the rest, so a replay refuses (and records) the same events.
CREATE TABLE projection_refusals (
    projection  text        NOT NULL,
    version     text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL CHECK (partition >= 0),
    "offset"    bigint      NOT NULL CHECK ("offset" >= 0),
    event_id    bytea       NOT NULL CHECK (length(event_id) = 32),
    detail      text        NOT NULL,
    refused_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, topic, partition, "offset"),
    FOREIGN KEY (projection, version) REFERENCES projection_versions (projection, version) ON DELETE CASCADE
);

-- /ready reads the faults, and the dead-letter tooling the refusals
GRANT SELECT ON projection_faults, projection_refusals TO resi_api;
