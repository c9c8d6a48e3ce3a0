"""Reads an open-data snapshot downloaded to a directory with DuckDB and prints, as JSON, its
listings (id, price, status, state, zip, miners, validation, in id order) and its attestation
rows."""

import json
import sys

import duckdb

root, date = sys.argv[1], sys.argv[2]
con = duckdb.connect()
listings = con.execute(
    "SELECT listing_id, price_usd, home_status, state, zip_code, unique_miners, is_validated,"
    " validation_score"
    f" FROM read_parquet('{root}/snapshots/{date}/**/*.parquet', hive_partitioning = true)"
    " ORDER BY listing_id"
).fetchall()
attestations = con.execute(
    "SELECT count(*), count(DISTINCT date), count(*) FILTER (WHERE is_validated)"
    f" FROM read_parquet('{root}/attestations/**/*.parquet', hive_partitioning = true)"
).fetchone()
print(
    json.dumps(
        {
            "listings": [
                {"zpid": r[0], "price": r[1], "home_status": r[2], "state": r[3],
                 "zip_code": r[4], "unique_miners": r[5], "is_validated": r[6],
                 "validation_score": r[7]}
                for r in listings
            ],
            "attestations": attestations[0],
            "attestation_days": attestations[1],
            "validated_attestations": attestations[2],
        }
    )
)
