-- Bookkeeping shared by every projection.
--
-- A projection version is one build of one projection's tables from the log, in its own
-- schema. Exactly one version of a projection is live; others are being built or retired.
-- Checkpoints say, per (projection, version, topic, partition), the next offset to fold; they
-- are written in the same transaction as the projection's rows, so a crash can never leave
-- rows without their checkpoint or the other way round.

CREATE TABLE projection_versions (
    projection   text        NOT NULL,
    version      text        NOT NULL,
    schema_name  text        NOT NULL UNIQUE,
    status       text        NOT NULL CHECK (status IN ('building', 'live', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    promoted_at  timestamptz,
    retired_at   timestamptz,
    PRIMARY KEY (projection, version)
);

-- at most one live version per projection
CREATE UNIQUE INDEX projection_versions_one_live ON projection_versions (projection) WHERE status = 'live';

CREATE TABLE projection_checkpoints (
    projection   text        NOT NULL,
    version      text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL CHECK (partition >= 0),
    next_offset  bigint      NOT NULL CHECK (next_offset >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, version, topic, partition),
    FOREIGN KEY (projection, version) REFERENCES projection_versions (projection, version) ON DELETE CASCADE
);
