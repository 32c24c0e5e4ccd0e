"""openapi.yaml is in step with template.yaml, the pydantic models and the handlers' answers."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate as validate_spec
from pydantic import ValidationError

from lift_alerts.domain.alert_request import AlertRequest, CloseRequest, EscalationRequest
from tests.support.harness import handler_module, load_template
from tests.support.openapi import METHODS, component, resolve, spec

# ---------------------------------------------------------------------------- the document


def test_openapi_document_is_valid_openapi_3() -> None:
    assert spec()["openapi"].startswith("3.")
    validate_spec(spec())


def test_each_route_documents_the_authorizer_the_template_gives_it() -> None:
    """IAM (sigv4) for the ticketing system's /alerts and /status, the desk users' JWT for
    /desk/api, none for the webhook and the desk page (README "The desk" says why)."""
    schemes = spec()["components"]["securitySchemes"]
    assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    as_documented = {"AWS_IAM": [{"sigv4": []}], "DeskUsers": [{"deskJwt": []}], "NONE": []}
    authorizers: dict[tuple[str, str], str] = {}
    for resource in load_template()["Resources"].values():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                props = event["Properties"]
                authorizers[(props["Method"].upper(), props["Path"])] = props["Auth"]["Authorizer"]
    for path, item in spec()["paths"].items():
        for method in METHODS & item.keys():
            authorizer = authorizers.get((method.upper(), path)) or authorizers[("ANY", path)]
            expected = as_documented[authorizer]
            assert item[method].get("security") == expected, f"{method.upper()} {path}"


# ---------------------------------------------------------------------------- routes


def template_routes() -> dict[str, dict[str, set[str]]]:
    """function directory -> path -> methods, from each function's HttpApi events."""
    routes: dict[str, dict[str, set[str]]] = {}
    for resource in load_template()["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        function = str(props["CodeUri"]).strip("/").split("/")[-1]
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            path, method = event["Properties"]["Path"], event["Properties"]["Method"].upper()
            routes.setdefault(function, {}).setdefault(path, set()).add(method)
    return routes


def template_route_set() -> set[tuple[str, str]]:
    """(METHOD, path) the API serves. ANY catch-alls are ignored where a path lists methods; a
    path routed only by ANY serves what its handler declares (its ROUTES), which must be that path."""
    found: set[tuple[str, str]] = set()
    for function, paths in template_routes().items():
        declared: dict[str, set[str]] = handler_module(function).ROUTES
        for path, methods in paths.items():
            explicit = methods - {"ANY"}
            if not explicit:
                assert path in declared, f"{function} handles no {path}"
                explicit = declared[path]
            found |= {(method, path) for method in explicit}
    return found


def openapi_route_set() -> set[tuple[str, str]]:
    return {
        (method.upper(), path) for path, item in spec()["paths"].items() for method in METHODS & item.keys()
    }


def test_template_routes_and_openapi_paths_list_the_same_routes() -> None:
    assert template_route_set() == openapi_route_set()


def test_handlers_declare_exactly_the_template_routes() -> None:
    """The handlers' ROUTES (used for 405 vs 404) agree with the template and the spec too."""
    declared = {
        (method, path)
        for function in template_routes()
        for path, methods in handler_module(function).ROUTES.items()
        for method in methods
    }
    assert declared == openapi_route_set()


def test_every_templated_path_has_its_any_catch_all_or_only_any() -> None:
    """Wrong methods reach a handler (which answers 405) instead of API Gateway's bare 404.
    The catch-all may be another function's (GET /alerts is the desk's, ANY /alerts the send
    function's): both declare every method of the path in their ROUTES."""
    catch_alls = {
        path for paths in template_routes().values() for path, methods in paths.items() if "ANY" in methods
    }
    for function, paths in template_routes().items():
        for path in paths:
            assert path in catch_alls, f"{function}: {path} has no ANY route for 405 answers"


# ---------------------------------------------------------------------------- request models


def _props(name: str) -> dict[str, Any]:
    return dict(resolve({"$ref": f"#/components/schemas/{name}"})["properties"])


def _pydantic_props(model: Any) -> tuple[dict[str, Any], set[str]]:
    schema = model.model_json_schema()
    return schema["properties"], set(schema.get("required", []))


def _limits(prop: dict[str, Any]) -> dict[str, Any]:
    keys = ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum")
    found = {k: prop[k] for k in keys if k in prop}
    for option in prop.get("anyOf", []):  # pydantic spells Optional[int] as anyOf [int, null]
        found.update({k: option[k] for k in keys if k in option})
    return found


@pytest.mark.parametrize(
    ("component_name", "model"),
    [
        ("AlertRequest", AlertRequest),
        ("EscalationRequest", EscalationRequest),
        ("CloseRequest", CloseRequest),
    ],
)
def test_request_schema_fields_required_and_limits_match_pydantic(component_name: str, model: Any) -> None:
    openapi = resolve({"$ref": f"#/components/schemas/{component_name}"})
    pyd_props, pyd_required = _pydantic_props(model)
    assert set(openapi["properties"]) == set(pyd_props)
    assert set(openapi.get("required", [])) == pyd_required
    for name, prop in openapi["properties"].items():
        assert _limits(prop) == _limits(pyd_props[name]), name


def test_openapi_example_is_accepted_by_pydantic_and_the_schema() -> None:
    example = spec()["paths"]["/alerts"]["post"]["requestBody"]["content"]["application/json"]["example"]
    component("AlertRequest").validate(example)
    parsed = AlertRequest.model_validate(example)
    assert parsed.recipients == ["27824537125", "27831234567"]


def _base(**fields: Any) -> dict[str, Any]:
    return {"ticket_id": "T-1", "lift_id": "L-1", "recipients": ["+27824537125"], **fields}


AGREEMENT_CASES = [
    pytest.param(_base(), True, id="minimal"),
    pytest.param({"lift_id": "L", "recipients": ["27824537125"]}, False, id="no-ticket"),
    pytest.param({"ticket_id": "T", "recipients": ["27824537125"]}, False, id="no-lift"),
    pytest.param({"ticket_id": "T", "lift_id": "L"}, False, id="no-recipients"),
    pytest.param(_base(recipients=[]), False, id="empty-recipients"),
    # The schema checks how a number is written; whether it is a valid number of its country
    # is libphonenumber's (tests/unit/test_phones.py), which no JSON schema can say.
    pytest.param(_base(recipients=["+27 82 453 7125"]), True, id="spaces-inside"),
    pytest.param(_base(recipients=["(082) 453-7125"]), True, id="national-with-brackets"),
    pytest.param(_base(recipients=["+2782ABC4567"]), False, id="letters"),
    pytest.param(_base(recipients=["27+824537125"]), False, id="plus-inside"),
    pytest.param(_base(recipients=["0" * 41]), False, id="41-characters"),
    pytest.param(_base(recipients=[f"2782453{i:04d}" for i in range(50)]), True, id="50-recipients"),
    pytest.param(_base(recipients=[f"2782453{i:04d}" for i in range(51)]), False, id="51-recipients"),
    pytest.param(_base(ticket_id="x" * 64), True, id="ticket-64"),
    pytest.param(_base(ticket_id="x" * 65), False, id="ticket-65"),
    pytest.param(_base(ticket_id=""), False, id="ticket-empty"),
    pytest.param(_base(floor="x" * 16), True, id="floor-16"),
    pytest.param(_base(floor="x" * 17), False, id="floor-17"),
    pytest.param(_base(site="x" * 200), True, id="site-200"),
    pytest.param(_base(site="x" * 201), False, id="site-201"),
    pytest.param(_base(note="x" * 500), True, id="note-500"),
    pytest.param(_base(note="x" * 501), False, id="note-501"),
    pytest.param(_base(escalation={"after_seconds": 1, "max_rounds": 0}), True, id="esc-min"),
    pytest.param(_base(escalation={"after_seconds": 3600, "max_rounds": 10}), True, id="esc-max"),
    pytest.param(_base(escalation={"after_seconds": 0}), False, id="esc-after-0"),
    pytest.param(_base(escalation={"after_seconds": 3601}), False, id="esc-after-3601"),
    pytest.param(_base(escalation={"max_rounds": -1}), False, id="esc-rounds-neg"),
    pytest.param(_base(escalation={"max_rounds": 11}), False, id="esc-rounds-11"),
    pytest.param(_base(escalation={"after_seconds": "60"}), False, id="esc-after-string"),
    pytest.param(_base(escalation={"recipients": ["12ab"]}), False, id="esc-bad-recipient"),
    pytest.param(_base(escalation={"recipients": ["+27831234567"]}), True, id="esc-recipient"),
    pytest.param(_base(escalation=None), True, id="esc-null"),
]


@pytest.mark.parametrize(("body", "valid"), AGREEMENT_CASES)
def test_schema_and_pydantic_agree_on_boundaries(body: dict[str, Any], valid: bool) -> None:
    schema_ok = component("AlertRequest").is_valid(body)
    try:
        AlertRequest.model_validate(body)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert (schema_ok, model_ok) == (valid, valid)


# ---------------------------------------------------------------------------- real responses
