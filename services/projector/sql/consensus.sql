-- The consensus projection, one schema per version ({schema} is replaced by the version's
-- schema; the version names the algorithm). Idempotent: run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

-- Each miner's latest report of each listing (a newer report supersedes the older ones), with
-- how many of its fields agree with the listing's chosen values. field_values follow
-- resi_projections::consensus::Field::ALL: price, bedrooms, bathrooms (tenths), living_area,
-- address, home_type, home_status, coordinates ("lat_e7,lon_e7"), zip_code, city, state.
CREATE TABLE IF NOT EXISTS {schema}.consensus_reports (
    listing_id      text             NOT NULL,
    miner_hotkey    text             NOT NULL,
    attestation_id  bytea            NOT NULL,
    reported_at     timestamptz      NOT NULL,
    miner_trust     double precision NOT NULL,
    field_values    text[]           NOT NULL,
    agreed_fields   integer          NOT NULL,
    reported_fields integer          NOT NULL,
    PRIMARY KEY (listing_id, miner_hotkey)
);
-- Nothing reads reports by miner (a miner's standing is miner_accuracy), and that index cost
-- about 30 % of every report written; versions built before keep none either.
DROP INDEX IF EXISTS {schema}.consensus_reports_by_miner;
-- Where the report came from when it was part of an epoch upload: the epoch, the zipcode it was
-- filed under (the upload's, else the listing's own, '' when neither), and whether it carried
-- every field the epoch score calls required. Versions built before get them when rebuilt.
ALTER TABLE {schema}.consensus_reports ADD COLUMN IF NOT EXISTS epoch_id text;
ALTER TABLE {schema}.consensus_reports ADD COLUMN IF NOT EXISTS epoch_zipcode text;
ALTER TABLE {schema}.consensus_reports ADD COLUMN IF NOT EXISTS complete boolean NOT NULL DEFAULT false;

-- Reports consumed while the version catches up, not applied yet (see
-- projection_checkpoints.staged_from): appended without an index, then read back in listing
-- order and applied once the version reaches the log's end, so that each listing is decided
-- once rather than once per report. Empty whenever the version has caught up.
CREATE TABLE IF NOT EXISTS {schema}.consensus_staged (
    partition       integer          NOT NULL,
    listing_id      text             NOT NULL,
    miner_hotkey    text             NOT NULL,
    attestation_id  bytea            NOT NULL,
    reported_at     timestamptz      NOT NULL,
    miner_trust     double precision NOT NULL,
    field_values    text[]           NOT NULL
);
ALTER TABLE {schema}.consensus_staged ADD COLUMN IF NOT EXISTS epoch_id text;
ALTER TABLE {schema}.consensus_staged ADD COLUMN IF NOT EXISTS epoch_zipcode text;
ALTER TABLE {schema}.consensus_staged ADD COLUMN IF NOT EXISTS complete boolean NOT NULL DEFAULT false;

-- One row per listing: the chosen value of every field (typed, for queries) and the score.
-- decisions holds every distinct value of every field with its support, confidence and
-- supporters (resi_projections::consensus::stored: compact, supporters as indexes into the
-- listing's reports sorted by miner), so that what the API shows of a build is what the build
-- decided, whatever algorithm the reading code would run.
CREATE TABLE IF NOT EXISTS {schema}.consensus_listings (
    listing_id        text             PRIMARY KEY,
    consensus_score   double precision NOT NULL CHECK (consensus_score BETWEEN 0 AND 1),
    unique_miners     integer          NOT NULL,
    last_reported_at  timestamptz      NOT NULL,
    price_usd         bigint,
    bedrooms          integer,
    bathrooms_tenths  integer,
    living_area_sqft  integer,
    address           text,
    home_type         text,
    home_status       text,
    latitude_e7       integer,
    longitude_e7      integer,
    zip_code          text,
    city              text,
    state             text
);
-- versions built before the values moved out of this table
ALTER TABLE {schema}.consensus_listings DROP COLUMN IF EXISTS fields;
-- NULL in rows written before decisions were stored; the API says when it decided those again
ALTER TABLE {schema}.consensus_listings ADD COLUMN IF NOT EXISTS decisions bytea;
-- A listing's row is rewritten with every report that changes it (about five times in a
-- rebuild). Room left on each page lets Postgres update it in place (HOT): the id, zip and
-- coordinates it is indexed by rarely change, so its three indexes, the GiST above all, are not
-- written again. Applies to pages written from now on.
ALTER TABLE {schema}.consensus_listings SET (fillfactor = 70);
CREATE INDEX IF NOT EXISTS consensus_listings_by_zip ON {schema}.consensus_listings (zip_code, listing_id);
-- the API's bounding-box search: a GiST index over (longitude, latitude) as a point, searched
-- with `point(...) <@ box(...)` written exactly like this expression
CREATE INDEX IF NOT EXISTS consensus_listings_by_point ON {schema}.consensus_listings
    USING gist (point(longitude_e7::float8, latitude_e7::float8));

-- Per miner: listings reported, and fields agreeing with the chosen values out of the fields
-- reported, over every listing's current consensus. accuracy_score = agreed / reported.
CREATE TABLE IF NOT EXISTS {schema}.miner_accuracy (
    miner_hotkey    text             PRIMARY KEY,
    listings        bigint           NOT NULL,
    agreed_fields   bigint           NOT NULL,
    reported_fields bigint           NOT NULL,
    accuracy_score  double precision NOT NULL CHECK (accuracy_score BETWEEN 0 AND 1)
);

-- Per epoch, miner and zipcode: the coordinator's evidence of what consensus confirms, kept by
-- every fold so that closing an epoch reads one row per (miner, zipcode) instead of the epoch's
-- attestations. A listing counts for the epoch of its miner's current report; it is checked
-- once at least three miners report it, and then its agreed and reported fields count.
-- Rows hold sums over the current reports, so they never depend on arrival order.
CREATE TABLE IF NOT EXISTS {schema}.epoch_agreement (
    epoch_id          text   NOT NULL,
    miner_hotkey      text   NOT NULL,
    zipcode           text   NOT NULL,
    listings          bigint NOT NULL,
    complete_listings bigint NOT NULL,
    checked_listings  bigint NOT NULL,
    agreed_fields     bigint NOT NULL,
    reported_fields   bigint NOT NULL,
    PRIMARY KEY (epoch_id, miner_hotkey, zipcode)
);
