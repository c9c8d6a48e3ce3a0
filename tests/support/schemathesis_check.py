"""Runs schemathesis against a running API's OpenAPI document, with every check, and prints a
JSON summary: {"exit_code", "failures": [{"check", "operation", "message"}], "tail"}.

    schemathesis_check.py BASE_URL MAX_EXAMPLES SEED|deterministic EXISTING

schemathesis.toml beside this script: a request the document forbids may also be refused 414
(its URI over the limit), which HTTP makes the right answer for an over-long query; everything
else is schemathesis's default. EXISTING is JSON naming path parameters and values that exist,
{"zpid": ["300001", …], "hotkey": […]}: half the generated requests use one, so the operations
behind a lookup are driven past their 404. It runs in a scratch directory, so its caches stay
out of the tree.
"""

import json
import os
import subprocess
import sys
import tempfile


def main(base_url: str, max_examples: str, seed: str, existing: str) -> None:
    with tempfile.TemporaryDirectory() as report_dir:
        report = os.path.join(report_dir, "report.ndjson")
        config = os.path.join(report_dir, "schemathesis.toml")
        base = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
        with open(base, encoding="utf-8") as handle, open(config, "w", encoding="utf-8") as out:
            out.write(handle.read())
            out.write(existing_values(json.loads(existing)))
        command = [
            os.path.join(os.path.dirname(sys.executable), "st"),
            "--config-file",
            config,
            "run",
            f"{base_url}/openapi.json",
            "--checks", "all",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", max_examples,
            "--workers", "2",
            "--request-timeout", "20",
            "--no-color",
            "--report", "ndjson",
            "--report-ndjson-path", report,
        ]
        # "deterministic": the same cases every run (CI); a number: another random sample
        if seed == "deterministic":
            command.append("--generation-deterministic")
        else:
            command.extend(["--seed", seed])
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=report_dir
        )
        failures = []
        if os.path.exists(report):
            with open(report, encoding="utf-8") as handle:
                for line in handle:
                    event = json.loads(line)
                    for failure in find_failures(event):
                        failures.append(failure)
    tail = (done.stdout + done.stderr)[-6000:]
    json.dump({"exit_code": done.returncode, "failures": failures, "tail": tail}, sys.stdout)


def existing_values(existing: dict) -> str:
    """TOML binding each named path parameter to a dictionary of values that exist."""
    dictionaries, bindings = [], []
    for name, values in sorted(existing.items()):
        dictionaries.append(f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n")
        bindings.append(f'"path.{name}" = {{ dictionary = "{name}", probability = 0.5 }}\n')
    return "\n" + "".join(dictionaries) + "[parameters]\n" + "".join(bindings)


def find_failures(event):
    """Every failed check an NDJSON event of the report holds, however deeply."""
    found = []

    def walk(value, operation=None):
        if isinstance(value, dict):
            label = value.get("label") or value.get("verbose_name") or operation
            if value.get("status") == "failure" and ("name" in value or "title" in value):
                found.append({
                    "check": value.get("name") or value.get("title"),
                    "operation": label,
                    "message": str(value.get("failure_info") or value.get("message") or "")[:500],
                })
            for item in value.values():
                walk(item, label)
        elif isinstance(value, list):
            for item in value:
                walk(item, operation)

    walk(event)
    return found


if __name__ == "__main__":
    main(*sys.argv[1:5])
