-- The listing projection, one schema per version ({schema} is replaced by the version's schema).
-- Idempotent: run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

-- One row per attestation (its event id): who reported what, from which upload, and the
-- reported values, kept for consensus audits and the validator feed.
CREATE TABLE IF NOT EXISTS {schema}.miner_attestations (
    attestation_id    bytea       PRIMARY KEY,
    listing_id        text        NOT NULL,
    miner_hotkey      text        NOT NULL,
    upload_id         bytea       NOT NULL,
    row_index         bigint      NOT NULL,
    upload_key        text        NOT NULL,
    job_id            text        NOT NULL,
    scraped_at        timestamptz NOT NULL,
    submitted_at      timestamptz NOT NULL,
    content_hash      bytea       NOT NULL,
    miner_trust       double precision NOT NULL,
    uri               text,
    url               text,
    price_usd         bigint,
    address           text,
    bedrooms          integer,
    bathrooms_tenths  integer,
    living_area_sqft  integer,
    home_type         text,
    home_status       text,
    days_on_market    integer,
    zip_code          text,
    city              text,
    state             text,
    latitude_e7       integer,
    longitude_e7      integer,
    listing_date      date,
    mls_id            text
);
CREATE INDEX IF NOT EXISTS miner_attestations_by_listing ON {schema}.miner_attestations (listing_id, scraped_at DESC, attestation_id DESC);
CREATE INDEX IF NOT EXISTS miner_attestations_by_miner ON {schema}.miner_attestations (miner_hotkey, submitted_at DESC);
-- The epoch and assigned zipcode of an epoch upload's attestations (NULL otherwise), for the
-- coordinator's epoch evidence; versions built before get them as their uploads are replayed.
ALTER TABLE {schema}.miner_attestations ADD COLUMN IF NOT EXISTS epoch_id text;
ALTER TABLE {schema}.miner_attestations ADD COLUMN IF NOT EXISTS epoch_zipcode text;
CREATE INDEX IF NOT EXISTS miner_attestations_by_epoch ON {schema}.miner_attestations (epoch_id, miner_hotkey)
    WHERE epoch_id IS NOT NULL;

-- One row per listing: identity, counts, and the values of its most recent report (by scrape
-- time, then attestation id, so the choice never depends on arrival order).
-- total_attestations counts independent reports, distinct (miner, content hash): a miner that
-- sends the same values again re-reports, which moves last_reported_at only; last_updated_at
-- is when the current values were first reported after any report of other values.
CREATE TABLE IF NOT EXISTS {schema}.listings (
    listing_id          text        PRIMARY KEY,
    uri                 text,
    url                 text,
    first_seen_at       timestamptz NOT NULL,
    last_updated_at     timestamptz NOT NULL,
    last_reported_at    timestamptz NOT NULL,
    total_attestations  bigint      NOT NULL,
    unique_miners_count integer     NOT NULL,
    latest_attestation  bytea       NOT NULL,
    price_usd           bigint,
    address             text,
    bedrooms            integer,
    bathrooms_tenths    integer,
    living_area_sqft    integer,
    home_type           text,
    home_status         text,
    days_on_market      integer,
    zip_code            text,
    city                text,
    state               text,
    latitude_e7         integer,
    longitude_e7        integer,
    listing_date        date,
    mls_id              text
);
-- tables made before the column existed: filled as their listings are recomputed (a replay of
-- the version fills all of them)
ALTER TABLE {schema}.listings ADD COLUMN IF NOT EXISTS last_reported_at timestamptz;
CREATE INDEX IF NOT EXISTS listings_by_zip ON {schema}.listings (zip_code, listing_id);
-- the API's "updated in the last 24 hours"
CREATE INDEX IF NOT EXISTS listings_by_update ON {schema}.listings (last_updated_at);

-- Attestations inserted while the version catches up whose listings are not recomputed yet
-- (see projection_checkpoints.staged_from): one row per attestation, appended without an
-- index, then each listing named here is recomputed once when the version reaches the log's
-- end. Empty whenever the version has caught up.
CREATE TABLE IF NOT EXISTS {schema}.listings_staged (
    partition    integer     NOT NULL,
    listing_id   text        NOT NULL,
    submitted_at timestamptz NOT NULL
);

-- Per epoch, miner, zipcode (the upload's, else the listing's own, '' when neither) and
-- distance band: the epoch's attestations and the latest upload time, kept by every fold so
-- that closing an epoch reads a few rows per (miner, zipcode) instead of the attestations.
-- distance_km is the row's distance from its zipcode's reference point in whole kilometres,
-- rounded up (0 when either is unknown), so that the coordinator can count the rows farther
-- than any whole number of kilometres it is configured with.
CREATE TABLE IF NOT EXISTS {schema}.epoch_rows (
    epoch_id          text        NOT NULL,
    miner_hotkey      text        NOT NULL,
    zipcode           text        NOT NULL,
    distance_km       integer     NOT NULL,
    attestations      bigint      NOT NULL,
    last_submitted_at timestamptz NOT NULL,
    PRIMARY KEY (epoch_id, miner_hotkey, zipcode, distance_km)
);
