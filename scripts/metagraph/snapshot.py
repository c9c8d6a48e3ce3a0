#!/usr/bin/env python3
"""Writes the metagraph snapshot the gateway reads (gateway.metagraph_file), with the
`bittensor` SDK, atomically (a reader never sees half a file):

    pip install bittensor
    python3 scripts/metagraph/snapshot.py --network finney --netuid 46 --out /var/lib/resi/metagraph.json

Run it every few minutes (a CronJob or a sidecar loop); the gateway re-reads the file every
gateway.metagraph_refresh_secs and keeps the last good snapshot if a write is bad.
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
    directory = os.path.dirname(os.path.abspath(args.out))
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as file:
        json.dump(snapshot, file)
    os.replace(file.name, args.out)
    print(f"{len(neurons)} neurons at block {snapshot['block']} written to {args.out}")


if __name__ == "__main__":
    main()
