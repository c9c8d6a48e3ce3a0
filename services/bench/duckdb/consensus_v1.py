"""Consensus v1 by DuckDB over the miners' Parquet files, for `resi-bench consensus`.

Runs consensus_v1.sql (beside this file) and prints one line, `seconds=<wall time>`, that the
benchmark reads. The CSV files it writes go to --out; the benchmark COPYs them into Postgres.

    python consensus_v1.py --files 'DIR/data/**/*.parquet' --trust trust.csv --out OUTDIR
"""

import argparse
import pathlib
import time

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", required=True, help="glob of the v1 Parquet files")
    parser.add_argument("--trust", required=True, help="CSV miner,trust")
    parser.add_argument("--out", required=True, help="directory for the CSV files")
    parser.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: all cores)")
    args = parser.parse_args()

    script = (pathlib.Path(__file__).parent / "consensus_v1.sql").read_text()
    for name, value in (("files", args.files), ("trust", args.trust), ("out", args.out)):
        script = script.replace("{" + name + "}", value.replace("'", "''"))

    started = time.perf_counter()
    connection = duckdb.connect()
    if args.threads:
        connection.execute(f"SET threads = {int(args.threads)}")
    connection.execute(script)
    connection.close()
    print(f"seconds={time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    main()
