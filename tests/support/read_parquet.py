"""Reads every object of a generated dataset with pyarrow (Parquet) or Python's json (epoch
documents), from a directory or an S3 bucket.

Prints JSON: {key: {"rows": n, "columns": [...], "types": [...]} or {"error": "..."}} so the
Rust tests can compare what pyarrow and Python see with the generator's manifest. An epoch
document's "rows" are its listings, its "columns" the keys of its first listing.
"""

import io
import json
import os
import sys

import pyarrow.parquet as pq


def describe(data: bytes) -> dict:
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - any failure to read is the answer
        return {"error": f"{type(error).__name__}: {error}"}
    return {
        "rows": table.num_rows,
        "columns": table.schema.names,
        "types": [str(field.type) for field in table.schema],
        "row_groups": pq.ParquetFile(io.BytesIO(data)).num_row_groups,
    }


def describe_json(data: bytes) -> dict:
    try:
        document = json.loads(data)
    except Exception as error:  # noqa: BLE001 - any failure to read is the answer
        return {"error": f"{type(error).__name__}: {error}"}
    listings = document.get("listings") if isinstance(document, dict) else None
    if not isinstance(listings, list):
        return {"rows": 0, "columns": []}
    first = listings[0] if listings and isinstance(listings[0], dict) else {}
    return {
        "rows": len(listings),
        "columns": list(first.keys()),
        "miner_hotkey": document.get("miner_hotkey"),
        "epoch_id": document.get("epoch_id"),
        "zipcode": document.get("zipcode"),
    }


def describe_any(key: str, data: bytes, size: int) -> dict:
    if key.endswith(".parquet"):
        return describe(data)
    if key.endswith(".json") and "/zipcode=" in key:
        return describe_json(data)
    return {"bytes": size}


def from_directory(root: str) -> dict:
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            key = os.path.relpath(path, root)
            with open(path, "rb") as handle:
                found[key] = describe_any(key, handle.read(), os.path.getsize(path))
    return found


def from_bucket(endpoint: str, bucket: str) -> dict:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            found[key] = describe_any(key, body, item["Size"])
    return found


if __name__ == "__main__":
    if sys.argv[1] == "dir":
        result = from_directory(sys.argv[2])
    else:
        result = from_bucket(sys.argv[2], sys.argv[3])
    json.dump(result, sys.stdout)
