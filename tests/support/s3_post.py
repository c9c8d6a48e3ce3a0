"""Uploads through a presigned POST policy as the network's miner does (requests.post with the
policy's fields, the key set to the folder plus a path, the file as `file`), and checks the
policy's SigV4 signature with Python's hmac. argv[1]: JSON {"access": the gateway's answer,
"secret", "region", "uploads": [{"path", "size"}]}. Prints {"signature_ok", "statuses",
"conditions"}."""

import base64
import hashlib
import hmac
import json
import sys

import requests

with open(sys.argv[1], encoding="utf-8") as file:
    given = json.load(file)
access = given["access"]
fields = access["fields"]


def mac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


date = fields["x-amz-date"][:8]
key = mac(("AWS4" + given["secret"]).encode(), date)
key = mac(key, given["region"])
key = mac(key, "s3")
key = mac(key, "aws4_request")
signature = hmac.new(key, fields["policy"].encode(), hashlib.sha256).hexdigest()

statuses = []
for upload in given["uploads"]:
    form = dict(fields)
    form["key"] = access["folder"] + upload["path"]
    response = requests.post(
        access.get("url") or access["uploadUrl"],
        data=form,
        files={"file": ("upload.bin", b"x" * upload["size"])},
        timeout=30,
    )
    statuses.append(response.status_code)

policy = json.loads(base64.b64decode(fields["policy"]))
print(
    json.dumps(
        {
            "signature_ok": signature == fields["x-amz-signature"],
            "statuses": statuses,
            "conditions": policy["conditions"],
            "expiration": policy["expiration"],
        }
    )
)
