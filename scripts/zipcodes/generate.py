#!/usr/bin/env python3
"""Writes the coordinator's zipcode reference data from the PyPI `zipcodes` package.

    python3 -m pip install zipcodes==3.0.0
    python3 scripts/zipcodes/generate.py services/coordinator/data/zipcodes.csv.gz

One row per US zipcode, sorted: zipcode, type (STANDARD, PO BOX, UNIQUE, MILITARY), active,
state, city, county, latitude, longitude. The gzip stream carries no timestamp, so the same
package version always gives the same bytes. Licences: services/coordinator/data/NOTICE.
"""

import csv
import gzip
import io
import sys

import zipcodes

EXPECTED_VERSION = "3.0.0"


def main(output: str) -> None:
    version = getattr(zipcodes, "__version__", EXPECTED_VERSION)
    if version != EXPECTED_VERSION:
        sys.exit(f"zipcodes {version} installed; the checked-in data is from {EXPECTED_VERSION}")
    rows = sorted(zipcodes.list_all(), key=lambda row: row["zip_code"])
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(
        ["zipcode", "type", "active", "state", "city", "county", "latitude", "longitude"]
    )
    for row in rows:
        writer.writerow(
            [
                row["zip_code"],
                row["zip_code_type"],
                "1" if row["active"] else "0",
                row["state"],
                row["city"],
                row["county"] or "",
                row["lat"] or "",
                row["long"] or "",
            ]
        )
    with open(output, "wb") as file:
        with gzip.GzipFile(filename="", mode="wb", fileobj=file, mtime=0, compresslevel=9) as packed:
            packed.write(text.getvalue().encode("utf-8"))
    print(f"{len(rows)} zipcodes written to {output}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "services/coordinator/data/zipcodes.csv.gz")
