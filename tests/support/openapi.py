"""openapi.yaml as validators: a handler's answer or a published event checked against the
document a client reads."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from tests.support.harness import ROOT

OPENAPI = ROOT / "openapi.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@cache
def spec() -> dict[str, Any]:
    return dict(yaml.safe_load(OPENAPI.read_text()))


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) resolving refs in openapi.yaml."""
    root = {**copy.deepcopy(schema), "components": spec()["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def component(name: str) -> Draft202012Validator:
    return validator({"$ref": f"#/components/schemas/{name}"})


def response_validator(path: str, method: str, status: int) -> tuple[str, Draft202012Validator]:
    responses = spec()["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} does not document {status}"
    response = resolve(responses[str(status)])
    ((media_type, content),) = response["content"].items()
    return media_type, validator(content["schema"])


def assert_conforms(path: str, method: str, result: Any) -> Any:
    media_type, check = response_validator(path, method, result.status)
    assert result.headers.get("Content-Type", "").split(";")[0] == media_type
    body = result.json() if media_type == "application/json" else result.text
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in check.iter_errors(body)]
    assert not errors, f"{method} {path} -> {result.status} does not conform: {errors}\n{result.text}"
    return body
