"""Epoch scores v1 by DuckDB, for `resi-bench scoring`: the coordinator's evidence query and
resi_projections::scores' formula over the rows the benchmark exported from Postgres.

Loads the CSV files into DuckDB tables (timed apart, `load_seconds=`), runs the query (timed,
`seconds=`) and prints `miner,total` for each miner, which the benchmark compares with its own.

    python scores_v1.py --dir DIR --deadline-micros N --grace-minutes 15 --far-km 50
"""

import argparse
import pathlib
import time

import duckdb

QUERY = """
WITH reported AS (
  SELECT a.miner_hotkey, coalesce(a.epoch_zipcode, a.zip_code) AS zipcode, a.listing_id,
         max(a.submitted_at) AS submitted_at,
         bool_or(a.address IS NOT NULL AND a.price_usd IS NOT NULL AND a.bedrooms IS NOT NULL
                 AND a.bathrooms_tenths IS NOT NULL AND a.living_area_sqft IS NOT NULL
                 AND a.listing_date IS NOT NULL AND a.zip_code IS NOT NULL) AS complete,
         count(*) FILTER (WHERE z.latitude IS NOT NULL AND a.latitude_e7 IS NOT NULL
                            AND a.longitude_e7 IS NOT NULL
                            AND sqrt(power((a.latitude_e7 / 1e7 - z.latitude) * 110.57, 2)
                                   + power((a.longitude_e7 / 1e7 - z.longitude) * 111.32
                                           * cos(radians(z.latitude)), 2)) > {far_km})
           AS far_rows
    FROM attestations a
    LEFT JOIN zipcodes z ON z.zipcode = coalesce(a.epoch_zipcode, a.zip_code)
   GROUP BY 1, 2, 3),
per_zip AS (
  SELECT r.miner_hotkey, r.zipcode, count(*) AS listings,
         count(*) FILTER (WHERE r.complete) AS complete_listings,
         coalesce(sum(cr.agreed_fields) FILTER (WHERE cl.listing_id IS NOT NULL), 0) AS agreed,
         coalesce(sum(cr.reported_fields) FILTER (WHERE cl.listing_id IS NOT NULL), 0) AS fields,
         max(r.submitted_at) AS last_upload, sum(r.far_rows) AS far_rows
    FROM reported r
    LEFT JOIN consensus_listings cl ON cl.listing_id = r.listing_id AND cl.unique_miners >= 3
    -- (Postgres's form puts `cl.listing_id IS NOT NULL` in this join's condition; DuckDB plans
    -- that as a nested loop, so the filter is on the sums instead: the same rows)
    LEFT JOIN consensus_reports cr
           ON cr.listing_id = r.listing_id AND cr.miner_hotkey = r.miner_hotkey
   GROUP BY 1, 2),
evidence AS (
  SELECT p.miner_hotkey, p.zipcode, p.listings, p.complete_listings, p.agreed, p.fields,
         p.last_upload, s.expected, s.honeypot,
         greatest(coalesce(u.rows_read, 0), p.listings) AS rows_read,
         coalesce(u.rows_rejected, 0) AS rows_rejected,
         coalesce(u.duplicate_rows, 0) AS duplicate_rows,
         coalesce(u.future_scrape_times, 0) + p.far_rows AS impossible
    FROM per_zip p
    JOIN assignment s ON s.zipcode = p.zipcode
    LEFT JOIN uploads u ON u.miner_hotkey = p.miner_hotkey AND u.zipcode = p.zipcode),
assigned AS (SELECT count(*) AS n FROM assignment WHERE NOT honeypot),
signals AS (
  SELECT miner_hotkey,
         sum(CASE WHEN honeypot THEN greatest(listings, rows_read - rows_rejected) ELSE 0 END)
           + sum(impossible) > 0 AS fabricated
    FROM evidence GROUP BY 1),
components AS (
  SELECT e.miner_hotkey,
         (coalesce(sum(complete_listings) / nullif(sum(listings), 0), 0)
          + coalesce((sum(rows_read) - sum(rows_rejected)) / nullif(sum(rows_read), 0), 0)
          + coalesce((sum(rows_read) - sum(duplicate_rows)) / nullif(sum(rows_read), 0), 0)) / 3.0
           AS quality,
         coalesce(sum(agreed) / nullif(sum(fields), 0), 0.5) AS accuracy,
         0.6 * count(*) FILTER (WHERE listings > 0) / any_value(a.n)
           + 0.4 * sum(CASE
               WHEN abs(listings / expected - 1) <= 0.10 + 1e-9 THEN 1.0
               WHEN abs(listings / expected - 1) <= 0.20 + 1e-9 THEN 0.7
               WHEN abs(listings / expected - 1) <= 0.30 + 1e-9 THEN 0.4
               ELSE 0.0 END) / any_value(a.n) AS completeness,
         CASE WHEN max(last_upload) <= {deadline} THEN 1.0
              WHEN max(last_upload) <= {deadline} + {grace} * 60000000 THEN 0.5
              ELSE 0.0 END AS timeliness
    FROM evidence e, assigned a
   WHERE NOT e.honeypot
   GROUP BY e.miner_hotkey)
SELECT s.miner_hotkey,
       CASE WHEN s.fabricated OR c.miner_hotkey IS NULL THEN 0.0
            ELSE 0.25 * c.quality + 0.35 * c.accuracy + 0.25 * c.completeness
                 + 0.15 * c.timeliness END AS total
  FROM signals s LEFT JOIN components c USING (miner_hotkey)
 ORDER BY 1
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--deadline-micros", required=True, type=int)
    parser.add_argument("--grace-minutes", required=True, type=int)
    parser.add_argument("--far-km", required=True, type=float)
    args = parser.parse_args()
    directory = pathlib.Path(args.dir)
    connection = duckdb.connect()
    started = time.perf_counter()
    # zipcodes and ids are text (a sniffer would read 01255 as the number 1255)
    text = {
        "attestations": ("epoch_zipcode", "zip_code", "listing_id", "miner_hotkey"),
        "zipcodes": ("zipcode",),
        "consensus_listings": ("listing_id",),
        "consensus_reports": ("listing_id", "miner_hotkey"),
        "uploads": ("miner_hotkey", "zipcode"),
        "assignment": ("zipcode",),
    }
    for name, columns in text.items():
        path = str(directory / f"{name}.csv").replace("'", "''")
        types = ", ".join(f"'{column}': 'VARCHAR'" for column in columns)
        connection.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv('{path}', header = true, types = {{{types}}})"
        )
    print(f"load_seconds={time.perf_counter() - started:.3f}")
    query = QUERY.format(far_km=args.far_km, deadline=args.deadline_micros, grace=args.grace_minutes)
    started = time.perf_counter()
    rows = connection.execute(query).fetchall()
    print(f"seconds={time.perf_counter() - started:.3f}")
    for miner, total in rows:
        print(f"{miner},{total!r}")


if __name__ == "__main__":
    main()
