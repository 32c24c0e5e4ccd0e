"""events/ is generated, has an expectation per file, and holds API Gateway v2 events of template routes
(invoking them is tests/component/test_events_files_invoke.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.apigw import select_route, template_routes
from local.make_events import EVENTS_DIR, write_events
from local.template import Template

EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS_DIR / "expected.json").read_text(encoding="utf-8"))


def test_every_event_file_has_an_expectation() -> None:
    files = {path.name for path in EVENTS_DIR.glob("*.json")} - {"expected.json"}
    assert files == set(EXPECTED)


def test_event_files_are_up_to_date_with_the_generator(tmp_path: Path) -> None:
    write_events(tmp_path)
    for name in [*EXPECTED, "expected.json"]:
        assert (tmp_path / name).read_text() == (EVENTS_DIR / name).read_text(), f"run `make events`: {name}"


@pytest.mark.parametrize("name", sorted(n for n, spec in EXPECTED.items() if spec["status"] is not None))
def test_http_events_are_api_gateway_v2_events_of_a_template_route(name: str) -> None:
    event = json.loads((EVENTS_DIR / name).read_text())
    routes = template_routes(Template.load())
    assert event["version"] == "2.0"
    method, path = event["requestContext"]["http"]["method"], event["rawPath"]
    selected = select_route(routes, method, path)
    assert selected is not None
    route, params = selected
    assert event["routeKey"] == route.route_key == event["requestContext"]["routeKey"]
    assert route.function == EXPECTED[name]["function"]
    assert event.get("pathParameters", {}) == params
    assert event["requestContext"]["stage"] == "$default"
    assert all(key == key.lower() for key in event["headers"])
    assert isinstance(event["isBase64Encoded"], bool)
