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

-- One row per listing: the chosen value of every field (typed, for queries) and the score.
-- Every distinct value of a field, with its supporting miners, support, confidence and first
-- and last report, follows from the listing's consensus_reports rows: the API decides them
-- again from those rows (resi_projections::consensus::decide, the function that chose these
-- values), so they are not stored twice. Storing them as JSON cost three quarters of a fold.
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
