-- The epochs projection, one schema per version ({schema} is replaced by the version's schema):
-- every epoch the coordinator opened, the zipcodes it assigned and, once closed, its honeypots.
-- Idempotent: run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

-- The first opening of each epoch on the log. The nonce is what miners echo in their status
-- reports; honeypots, commitment_key and commitment_verified stay NULL until the epoch closes.
CREATE TABLE IF NOT EXISTS {schema}.epochs (
    epoch_id                text        PRIMARY KEY,
    opened_event_id         bytea       NOT NULL,
    start_time              timestamptz NOT NULL,
    end_time                timestamptz NOT NULL,
    submission_deadline     timestamptz NOT NULL,
    nonce                   text        NOT NULL,
    target_listings         integer     NOT NULL,
    tolerance_percent       integer     NOT NULL,
    total_expected_listings bigint      NOT NULL,
    zipcode_count           integer     NOT NULL,
    algorithm_version       text        NOT NULL,
    selection_seed          bigint      NOT NULL,
    zipcode_hash            text        NOT NULL,
    honeypot_commitment     text        NOT NULL,
    closed_event_id         bytea,
    honeypots               text[],
    commitment_key          text,
    commitment_verified     boolean
);
CREATE INDEX IF NOT EXISTS epochs_by_start ON {schema}.epochs (start_time);

-- The zipcodes of each epoch in the order miners receive them; is_honeypot is known at closing.
CREATE TABLE IF NOT EXISTS {schema}.epoch_assignments (
    epoch_id          text    NOT NULL REFERENCES {schema}.epochs (epoch_id),
    position          integer NOT NULL,
    zipcode           text    NOT NULL,
    expected_listings integer NOT NULL,
    state             text    NOT NULL,
    city              text    NOT NULL,
    county            text    NOT NULL,
    market_tier       text    NOT NULL,
    geographic_region text    NOT NULL,
    is_honeypot       boolean,
    PRIMARY KEY (epoch_id, zipcode)
);
CREATE INDEX IF NOT EXISTS epoch_assignments_by_zipcode ON {schema}.epoch_assignments (zipcode, epoch_id);

-- Events the projection did not apply, with why: a second, different opening of an epoch
-- already open, or a closing that does not match the opening it names.
CREATE TABLE IF NOT EXISTS {schema}.epoch_conflicts (
    epoch_id text  NOT NULL,
    event_id bytea NOT NULL,
    reason   text  NOT NULL,
    PRIMARY KEY (epoch_id, event_id)
);
