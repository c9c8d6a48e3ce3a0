"""Checks an epoch's nonce and honeypot reveal as a validator would, with Python's standard
library only: argv[1] is a JSON file {"secret", "opened", "closed"} (events as the API's JSON).
Prints {"nonce": bool, "commitment": bool, "selection_seed": bool}."""

import hashlib
import hmac
import json
import sys

with open(sys.argv[1], encoding="utf-8") as file:
    given = json.load(file)
opened, closed = given["opened"], given["closed"]
message = f"{opened['epoch_id']}:{given['start_text']}:{opened['zipcode_hash']}"
digest = hmac.new(given["secret"].encode(), message.encode(), hashlib.sha256).digest()
honeypots = ",".join(sorted(closed["honeypots"]))
commitment = hashlib.sha256(f"{closed['commitment_key']}:{honeypots}".encode()).hexdigest()
print(
    json.dumps(
        {
            "nonce": digest[:8].hex() == opened["nonce"],
            "selection_seed": int.from_bytes(digest[:8], "big") & ((1 << 53) - 1)
            == opened["selection_seed"],
            "commitment": commitment == opened["honeypot_commitment"],
        }
    )
)
