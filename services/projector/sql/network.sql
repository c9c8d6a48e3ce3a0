-- The network projection, one schema per version ({schema} is replaced by the version's
-- schema): what miners report through the gateway (each miner's progress on each epoch, as its
-- signed status reports say it) and the metagraph snapshots the gateway decided with.
-- Idempotent: run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

-- Event ids already folded: a re-delivered report counts once, a snapshot recorded by two
-- gateway replicas once.
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

-- Every distinct snapshot recorded, in the order observed.
CREATE TABLE IF NOT EXISTS {schema}.metagraph_snapshots (
    event_id    bytea       PRIMARY KEY,
    netuid      integer     NOT NULL,
    block       bigint      NOT NULL,
    neurons     integer     NOT NULL,
    observed_at timestamptz NOT NULL
);

-- The neurons of each subnet's latest snapshot (by block).
CREATE TABLE IF NOT EXISTS {schema}.metagraph_neurons (
    netuid           integer NOT NULL,
    uid              integer NOT NULL,
    hotkey           text    NOT NULL,
    coldkey          text    NOT NULL,
    stake_rao        bigint  NOT NULL,
    validator_permit boolean NOT NULL,
    block            bigint  NOT NULL,
    PRIMARY KEY (netuid, uid)
);
CREATE INDEX IF NOT EXISTS metagraph_neurons_by_hotkey ON {schema}.metagraph_neurons (hotkey);
