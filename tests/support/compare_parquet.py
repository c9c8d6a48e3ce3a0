"""Compares two trees of Parquet files row by row with pyarrow.

Prints JSON: {"keys_only_in_first": [...], "keys_only_in_second": [...],
"compared": n, "mismatches": {key: reason}}.
"""

import json
import os
import sys

import pyarrow.parquet as pq


def parquet_keys(root: str) -> set:
    keys = set()
    for directory, _, files in os.walk(root):
        for name in files:
            if name.endswith(".parquet"):
                keys.add(os.path.relpath(os.path.join(directory, name), root))
    return keys


def main(first: str, second: str) -> None:
    left, right = parquet_keys(first), parquet_keys(second)
    mismatches = {}
    for key in sorted(left & right):
        a = pq.read_table(os.path.join(first, key))
        b = pq.read_table(os.path.join(second, key))
        if a.schema.names != b.schema.names:
            mismatches[key] = f"columns {a.schema.names} != {b.schema.names}"
        elif a.to_pylist() != b.to_pylist():
            mismatches[key] = "row values differ"
    json.dump(
        {
            "keys_only_in_first": sorted(left - right),
            "keys_only_in_second": sorted(right - left),
            "compared": len(left & right),
            "mismatches": mismatches,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
