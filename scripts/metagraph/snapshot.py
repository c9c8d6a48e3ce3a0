#!/usr/bin/env python3
"""Writes the metagraph snapshot the gateway reads, with the `bittensor` SDK, atomically (a
reader never sees half a snapshot): to a file (gateway.metagraph_file) or an S3 object
(gateway.metagraph_url):

    pip install bittensor boto3
    python3 scripts/metagraph/snapshot.py --network finney --netuid 46 --out /var/lib/resi/metagraph.json
    python3 scripts/metagraph/snapshot.py --network finney --netuid 46 --out s3://resi-network/metagraph/46.json

Run it every few minutes (the CronJob of k8s/overlays/prod/metagraph-cronjob.yaml, built from
scripts/metagraph/Dockerfile, or a sidecar loop); the gateway re-reads the snapshot every
gateway.metagraph_refresh_secs and keeps the last good one if a read is bad.
"""

import argparse
import json
import os
import tempfile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--network", default="finney")
    parser.add_argument("--netuid", type=int, default=46)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import bittensor as bt  # the SDK is large: only the snapshot job needs it

    metagraph = bt.subtensor(network=args.network).metagraph(args.netuid)
    neurons = [
        {
            "uid": int(uid),
            "hotkey": hotkey,
            "coldkey": coldkey,
            "stake": float(stake),
            "validator_permit": bool(permit),
        }
        for uid, hotkey, coldkey, stake, permit in zip(
            metagraph.uids, metagraph.hotkeys, metagraph.coldkeys, metagraph.S, metagraph.validator_permit
        )
    ]
    snapshot = {"netuid": args.netuid, "block": int(metagraph.block), "neurons": neurons}
    write(snapshot, args.out)
    print(f"{len(neurons)} neurons at block {snapshot['block']} written to {args.out}")


def write(snapshot: dict, out: str) -> None:
    """A file is replaced by rename; an S3 object by one PUT, which readers see whole or not."""
    if out.startswith("s3://"):
        import boto3  # endpoint and credentials from the AWS environment (AWS_ENDPOINT_URL, IRSA)

        bucket, _, key = out[len("s3://") :].partition("/")
        body = json.dumps(snapshot).encode()
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        return
    directory = os.path.dirname(os.path.abspath(out))
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as file:
        json.dump(snapshot, file)
    os.replace(file.name, out)


if __name__ == "__main__":
    main()
