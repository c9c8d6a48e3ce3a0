"""Reads a `resi lab export` directory with DuckDB and prints what it holds, as JSON."""

import json
import sys

import duckdb

root = sys.argv[1]
decisions = sys.argv[2] if len(sys.argv) > 2 else None
con = duckdb.connect()
rows, listings, miners, dates = con.execute(
    "SELECT count(*), count(DISTINCT listing_id), count(DISTINCT miner_hotkey), count(DISTINCT date)"
    f" FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)"
).fetchone()
result = {"rows": rows, "listings": listings, "miners": miners, "dates": dates}
if decisions:
    result["decided_prices"] = con.execute(
        f"SELECT count(*) FROM read_parquet('{decisions}') WHERE field = 'price'"
    ).fetchone()[0]
print(json.dumps(result))
