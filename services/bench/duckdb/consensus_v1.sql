-- Consensus v1 (resi_projections::consensus, Algorithm::V1) computed in one batch by DuckDB,
-- straight from the miners' v1 Parquet files, for `resi-bench consensus`. It writes the three
-- tables of a consensus version as CSV files that COPY loads into Postgres unchanged. (The
-- values' support per field is not a table: it follows from consensus_reports.)
--
-- Placeholders, replaced by consensus_v1.py: {files} (a glob under data/hotkey=…/job_id=…/),
-- {trust} (CSV miner,trust: the trust the parser recorded in each miner's attestations) and
-- {out} (directory for the CSV files).
--
-- The rules, as the projection applies them:
-- * each miner counts once per listing, with its latest report (greatest scrape time);
-- * a value's support is the sum of its miners' trust; the chosen value has the greatest
--   support, ties to the most recent report, then to the smaller value;
-- * confidence = supporting miners / miners reporting the field; the listing's score is the
--   mean confidence of its chosen values;
-- * a miner's agreement: its reported fields equal to the chosen values, out of those reported.
-- Values are compared as the parser writes them: whole dollars, bathrooms in tenths,
-- coordinates as "lat_e7,lon_e7" (rounded half away from zero). The benchmark's addresses and
-- names are already in the parser's normal form, so they are taken as they are.

SET preserve_insertion_order = false;

CREATE TEMP TABLE trust AS
SELECT miner, trust FROM read_csv('{trust}', header = true, columns = {'miner': 'VARCHAR', 'trust': 'DOUBLE'});

-- every miner's latest report of every listing, its field values in Field::ALL order
CREATE TEMP TABLE reports AS
SELECT
    CAST(zpid AS VARCHAR) AS listing_id,
    hotkey AS miner,
    epoch_us(CAST(datetime AS TIMESTAMP)) AS reported_at,
    t.trust,
    [
        CAST(CAST(round(price) AS BIGINT) AS VARCHAR),
        CAST(CAST(bedrooms AS BIGINT) AS VARCHAR),
        CAST(CAST(round(bathrooms * 10) AS BIGINT) AS VARCHAR),
        CAST(CAST(round(living_area) AS BIGINT) AS VARCHAR),
        address,
        home_type,
        home_status,
        CAST(CAST(round(latitude * 1e7) AS BIGINT) AS VARCHAR) || ',' ||
            CAST(CAST(round(longitude * 1e7) AS BIGINT) AS VARCHAR),
        zip_code,
        city,
        state
    ] AS field_values
FROM read_parquet('{files}', hive_partitioning = true) AS p
JOIN trust AS t ON t.miner = p.hotkey
QUALIFY row_number() OVER (PARTITION BY listing_id, miner ORDER BY reported_at DESC) = 1;

-- one row per reported (listing, field, miner)
CREATE TEMP TABLE cells AS
SELECT listing_id, miner, reported_at, trust, field, value
FROM (
    SELECT listing_id, miner, reported_at, trust,
           unnest(range(11)) AS field, unnest(field_values) AS value
    FROM reports
)
WHERE value IS NOT NULL;

-- every distinct value of every field, ranked: rank 1 is the chosen value
CREATE TEMP TABLE supports AS
SELECT *,
       miners / sum(miners) OVER (PARTITION BY listing_id, field) AS confidence,
       row_number() OVER (PARTITION BY listing_id, field
                          ORDER BY support DESC, last_reported DESC, value ASC) AS rank
FROM (
    SELECT listing_id, field, value,
           CAST(count(*) AS DOUBLE) AS miners,
           sum(trust) AS support,
           min(reported_at) AS first_reported,
           max(reported_at) AS last_reported
    FROM cells
    GROUP BY listing_id, field, value
);

CREATE MACRO pg_time(micros) AS strftime(make_timestamp(micros), '%Y-%m-%d %H:%M:%S.%f+00');

COPY (
    SELECT s.listing_id,
           avg(s.confidence) AS consensus_score,
           any_value(m.miners) AS unique_miners,
           pg_time(any_value(m.newest)) AS last_reported_at,
           CAST(max(value) FILTER (WHERE field = 0) AS BIGINT) AS price_usd,
           CAST(max(value) FILTER (WHERE field = 1) AS INTEGER) AS bedrooms,
           CAST(max(value) FILTER (WHERE field = 2) AS INTEGER) AS bathrooms_tenths,
           CAST(max(value) FILTER (WHERE field = 3) AS INTEGER) AS living_area_sqft,
           max(value) FILTER (WHERE field = 4) AS address,
           max(value) FILTER (WHERE field = 5) AS home_type,
           max(value) FILTER (WHERE field = 6) AS home_status,
           CAST(split_part(max(value) FILTER (WHERE field = 7), ',', 1) AS INTEGER) AS latitude_e7,
           CAST(split_part(max(value) FILTER (WHERE field = 7), ',', 2) AS INTEGER) AS longitude_e7,
           max(value) FILTER (WHERE field = 8) AS zip_code,
           max(value) FILTER (WHERE field = 9) AS city,
           max(value) FILTER (WHERE field = 10) AS state
    FROM supports AS s
    JOIN (SELECT listing_id, count(*) AS miners, max(reported_at) AS newest
          FROM reports GROUP BY listing_id) AS m USING (listing_id)
    WHERE s.rank = 1
    GROUP BY s.listing_id
) TO '{out}/consensus_listings.csv' (FORMAT csv, HEADER false);

CREATE TEMP TABLE agreement AS
SELECT c.listing_id, c.miner,
       CAST(count(*) FILTER (WHERE s.rank = 1) AS INTEGER) AS agreed_fields,
       CAST(count(*) AS INTEGER) AS reported_fields
FROM cells AS c
JOIN supports AS s USING (listing_id, field, value)
GROUP BY c.listing_id, c.miner;

-- attestation_id is left empty: it is the blake3 id of the parser's event, which a batch
-- query over the files does not have
COPY (
    SELECT r.listing_id, r.miner, '\x' AS attestation_id, pg_time(r.reported_at), r.trust,
           '{' || array_to_string(list_transform(r.field_values, v ->
               CASE WHEN v IS NULL THEN 'NULL'
                    ELSE '"' || replace(replace(v, '\', '\\'), '"', '\"') || '"' END), ',') || '}',
           coalesce(a.agreed_fields, 0), coalesce(a.reported_fields, 0)
    FROM reports AS r
    LEFT JOIN agreement AS a USING (listing_id, miner)
) TO '{out}/consensus_reports.csv' (FORMAT csv, HEADER false);

COPY (
    SELECT miner, count(*), sum(agreed_fields), sum(reported_fields),
           CASE WHEN sum(reported_fields) > 0
                THEN sum(agreed_fields) / sum(reported_fields) ELSE 0 END
    FROM agreement
    GROUP BY miner
) TO '{out}/miner_accuracy.csv' (FORMAT csv, HEADER false);
