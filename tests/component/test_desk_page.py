"""GET /desk (SPEC §13): the page, with the settings it is rendered with and the headers that
keep it to itself. The page's own HTML, script and style are functions/desk/page.py's (its
browser tests are tests/browser)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping

import pytest

from lift_alerts.platform.config import get_settings
from tests.support.harness import handler_module
from tests.support.service import Service

SCRIPT = "window.DESK = 1;"
STYLE = "body { margin: 0 }"


def stand_in_page(config: Mapping[str, object]) -> str:
    """What render_page gives, in shape: one document with its script, style and settings inlined."""
    settings = f"<script>window.DESK_CONFIG = {json.dumps(dict(config))};</script>"
    head = f"<head><style>{STYLE}</style>{settings}</head>"
    return f"<!doctype html><html>{head}<body><script>{SCRIPT}</script></body></html>"


@pytest.fixture
def page(service: Service, monkeypatch: pytest.MonkeyPatch) -> Service:
    app = handler_module("desk")
    monkeypatch.setattr(app, "_render_page", lambda: stand_in_page)
    return service


def config_of(html: str) -> dict[str, object]:
    match = re.search(r"window\.DESK_CONFIG = (\{.*?\});</script>", html)
    assert match is not None
    return dict(json.loads(match.group(1)))


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_without_sign_in_on_the_local_stack(page: Service) -> None:
    result = page.desk("GET", "/desk")
    assert result.status == 200
    assert result.headers["Content-Type"].startswith("text/html")
    assert config_of(result.text) == {"timezone": "Africa/Johannesburg", "auth": None}
    policy = result.headers["Content-Security-Policy"]
    # Exactly its own inline script and style may run; it may fetch from its own origin only.
    assert sha256(SCRIPT) in policy
    assert sha256(STYLE) in policy
    assert "'unsafe-inline'" not in policy
    assert "connect-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy


def test_the_page_signs_in_with_cognito_in_aws(page: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESK_AUTH_DOMAIN", "https://lift-desk.auth.af-south-1.amazoncognito.com")
    monkeypatch.setenv("DESK_CLIENT_ID", "abc123")
    monkeypatch.setenv("DESK_REDIRECT_URI", "https://desk.example.com/desk")
    monkeypatch.setenv("DESK_SCOPES", "openid email")
    get_settings.cache_clear()

    result = page.desk("GET", "/desk")

    assert config_of(result.text)["auth"] == {
        "domain": "https://lift-desk.auth.af-south-1.amazoncognito.com",
        "client_id": "abc123",
        "redirect_uri": "https://desk.example.com/desk",
        "logout_uri": "https://desk.example.com/desk",
        "scopes": ["openid", "email"],
    }
    assert (
        "connect-src 'self' https://lift-desk.auth.af-south-1.amazoncognito.com;"
        in (result.headers["Content-Security-Policy"])
    )


def test_other_methods_on_the_page_are_405(page: Service) -> None:
    result = page.desk("POST", "/desk")
    assert result.status == 405
    assert result.headers["Allow"] == "GET"


def test_a_build_without_the_page_still_serves_the_api(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = handler_module("desk")
    monkeypatch.setattr(app, "PAGE_FILE", app.PAGE_FILE.with_name("no-such-page.py"))
    app._render_page.cache_clear()
    assert service.desk("GET", "/desk").status == 503
    assert service.desk("GET", "/desk/api/status").status == 200
    app._render_page.cache_clear()


def test_the_real_page_carries_its_settings_and_a_policy_for_its_inline_parts(service: Service) -> None:
    result = service.desk("GET", "/desk")
    assert result.status == 200
    assert config_of(result.text)["auth"] is None
    for body in re.findall(r"<script>(.*?)</script>", result.text, re.DOTALL):
        assert sha256(body) in result.headers["Content-Security-Policy"]
