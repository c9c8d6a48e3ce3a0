"""Consensus v1 by DuckDB over a `resi lab export`, for `resi-bench lab`.

Decides every listing of the export with v1's rules (each miner's latest report; a value's
support is the sum of its miners' trust; the greatest support wins, ties to the latest report,
then to the smaller value; confidence = supporting miners / miners reporting the field; the
listing's score is the mean confidence of its chosen values) and writes the decisions in the
lab's decisions schema. Prints `seconds=<wall time>`.

    python lab_v1.py --input EXPORT_DIR --output decisions.parquet
"""

import argparse
import time

import duckdb

FIELDS = [
    "price", "bedrooms", "bathrooms", "living_area", "address", "home_type", "home_status",
    "coordinates", "zip_code", "city", "state",
]

SQL = """
SET preserve_insertion_order = false;
CREATE TEMP TABLE reports AS
SELECT listing_id, miner_hotkey AS miner, epoch_us(scraped_at) AS reported_at,
       CASE WHEN isnan(miner_trust) THEN 0 ELSE greatest(0, least(1, miner_trust)) END AS trust,
       [CAST(price_usd AS VARCHAR), CAST(bedrooms AS VARCHAR), CAST(bathrooms_tenths AS VARCHAR),
        CAST(living_area_sqft AS VARCHAR), address, home_type, home_status,
        CASE WHEN latitude_e7 IS NOT NULL AND longitude_e7 IS NOT NULL
             THEN CAST(latitude_e7 AS VARCHAR) || ',' || CAST(longitude_e7 AS VARCHAR) END,
        zip_code, city, state] AS field_values,
       attestation_id
FROM read_parquet('{input}/**/*.parquet', hive_partitioning = true)
QUALIFY row_number() OVER (PARTITION BY listing_id, miner_hotkey
                           ORDER BY scraped_at DESC, field_values DESC, attestation_id ASC) = 1;
CREATE TEMP TABLE cells AS
SELECT listing_id, miner, reported_at, trust, field, value
FROM (SELECT listing_id, miner, reported_at, trust,
             unnest(range(11)) AS field, unnest(field_values) AS value FROM reports)
WHERE value IS NOT NULL;
CREATE TEMP TABLE chosen AS
SELECT * FROM (
    SELECT *, miners / sum(miners) OVER (PARTITION BY listing_id, field) AS confidence,
           sum(miners) OVER (PARTITION BY listing_id, field) AS reporting,
           row_number() OVER (PARTITION BY listing_id, field
                              ORDER BY support DESC, last_reported DESC, value ASC) AS rank
    FROM (SELECT listing_id, field, value, CAST(count(*) AS DOUBLE) AS miners,
                 sum(trust) AS support, max(reported_at) AS last_reported
          FROM cells GROUP BY listing_id, field, value))
WHERE rank = 1;
COPY (
    SELECT c.listing_id, list_extract({fields}, c.field + 1) AS field, c.value, c.confidence,
           c.support, CAST(c.miners AS INTEGER) AS supporters,
           CAST(c.reporting AS INTEGER) AS reporting,
           avg(c.confidence) OVER (PARTITION BY c.listing_id) AS listing_score
    FROM chosen AS c
) TO '{output}' (FORMAT parquet, COMPRESSION zstd);
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="the export directory")
    parser.add_argument("--output", required=True, help="the decisions file to write")
    args = parser.parse_args()
    fields = "[" + ", ".join(f"'{name}'" for name in FIELDS) + "]"
    script = (
        SQL.replace("{input}", args.input.replace("'", "''"))
        .replace("{output}", args.output.replace("'", "''"))
        .replace("{fields}", fields)
    )
    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute(script)
    connection.close()
    print(f"seconds={time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    main()
