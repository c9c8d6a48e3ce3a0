-- The miner status projection, one schema per version ({schema} is replaced by the version's
-- schema): each miner's progress on each epoch as its signed status reports say it.
-- Idempotent: run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

-- Event ids already folded: a re-delivered report counts once.
CREATE TABLE IF NOT EXISTS {schema}.folded_events (
    event_id bytea PRIMARY KEY
);

-- The latest report (by arrival at the gateway) of each miner for each epoch, and how many it
-- sent. Counts and times are the miner's claims; received times are the gateway's.
CREATE TABLE IF NOT EXISTS {schema}.miner_epoch_status (
    epoch_id            text        NOT NULL,
    miner_hotkey        text        NOT NULL,
    status              text        NOT NULL,
    listings_scraped    bigint,
    zipcodes_completed  integer     NOT NULL,
    s3_upload_complete  boolean     NOT NULL,
    s3_upload_timestamp timestamptz,
    reports             integer     NOT NULL,
    first_reported_at   timestamptz NOT NULL,
    last_reported_at    timestamptz NOT NULL,
    PRIMARY KEY (epoch_id, miner_hotkey)
);
CREATE INDEX IF NOT EXISTS miner_epoch_status_by_miner ON {schema}.miner_epoch_status (miner_hotkey, epoch_id);

-- Every zipcode a miner reported finished, with its latest claim.
CREATE TABLE IF NOT EXISTS {schema}.miner_zipcode_progress (
    epoch_id         text        NOT NULL,
    miner_hotkey     text        NOT NULL,
    zipcode          text        NOT NULL,
    listings_scraped bigint,
    completed_at     timestamptz,
    reported_at      timestamptz NOT NULL,
    PRIMARY KEY (epoch_id, miner_hotkey, zipcode)
);
