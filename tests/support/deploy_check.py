"""Renders and validates the deployment files, printing JSON for the deploy test suite.

  deploy_check.py kustomize OVERLAY_DIR   render with `kubectl kustomize`, validate every document
                                          against the Kubernetes schemas (strict: unknown fields
                                          fail); Prometheus Operator kinds have no schema there
                                          and are returned for the test to check
  deploy_check.py compose FILE            parse with a strict Compose Specification parser, after
                                          resolving YAML anchors and merge keys
  deploy_check.py compose-text TEXT       the same for a document given inline (negative checks)
"""
import json
import subprocess
import sys

import yaml

KUBERNETES_VERSION = "1.31.0"
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


def kustomize(overlay):
    rendered = subprocess.run(
        ["kubectl", "kustomize", overlay], check=True, capture_output=True, text=True
    ).stdout
    import kubernetes_validate

    documents, errors = [], []
    for document in yaml.safe_load_all(rendered):
        if not document:
            continue
        documents.append(document)
        if document.get("kind") in CUSTOM_KINDS:
            continue
        name = f'{document.get("kind")}/{document.get("metadata", {}).get("name")}'
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{name}: {error.message} at {list(error.path)}")
        except Exception as error:  # a schema the package does not have
            errors.append(f"{name}: {error}")
    return {"documents": documents, "errors": errors}


def compose(text):
    from compose_spec import PyCompose

    data = yaml.safe_load(text)
    try:
        PyCompose.from_json(json.dumps(data))
    except ValueError as error:
        return {"error": str(error), "document": data}
    return {"error": None, "document": data}


if __name__ == "__main__":
    command, argument = sys.argv[1], sys.argv[2]
    if command == "kustomize":
        result = kustomize(argument)
    elif command == "compose":
        with open(argument, encoding="utf-8") as file:
            result = compose(file.read())
    else:
        result = compose(argument)
    json.dump(result, sys.stdout)
