"""Signs commitment strings as the network's miners and validators do: bittensor-wallet's
Keypair from a dev URI, `Keypair.sign(commitment.encode()).hex()`; with "wrap", the
`<Bytes>…</Bytes>` form of Polkadot.js-style signers. argv[1] is a JSON file of
[{"uri", "message", "wrap"}]; prints [{"hotkey", "signature"}] in the same order."""

import json
import sys

from bittensor_wallet import Keypair

with open(sys.argv[1], encoding="utf-8") as file:
    wanted = json.load(file)
signed = []
for item in wanted:
    keypair = Keypair.create_from_uri(item["uri"])
    message = item["message"]
    if item.get("wrap"):
        message = f"<Bytes>{message}</Bytes>"
    signed.append(
        {"hotkey": keypair.ss58_address, "signature": keypair.sign(message.encode()).hex()}
    )
print(json.dumps(signed))
