"""`python -m local.make_events` (`make events`): regenerate events/ from the local secret.

Each HTTP case is a request turned into the API Gateway HTTP API 2.0 event exactly as the
local API (local/apigw.py) builds it for the template's route, so every file is an event
`sam local invoke` accepts; webhook bodies are signed with the local webhook secret, or carry
the local callback token as `Authorization: Bearer …` the way the real Woosh Bridge forwards.
`events/expected.json` maps each file to its function and the status it must answer
(null for events that are not HTTP requests).
"""

from __future__ import annotations

import base64
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from local.account import ACCOUNT_ID, LOCAL_SECRET_VALUES, STACK_NAME, region
from local.apigw import Route, build_event, select_route, template_routes
from local.pumps import scheduled_event
from local.template import REPO_ROOT, Template
from local.woosh_standin import BUSINESS_NUMBER, signature_header, webhook_envelope

EVENTS_DIR = REPO_ROOT / "events"
FIXED_TIME = 1_727_778_600.0  # 2024-10-01T10:30:00Z: files do not change when regenerated
ALERT_ID = "0123456789abcdef0123456789abcdef"
SENT_ID = "wamid.SENT0001"
PHONE = "27824537125"
TAP_TIMESTAMP = "1727779865"


@dataclass(frozen=True)
class Case:
    file: str
    method: str
    path: str
    status: int
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    query: str = ""


def _button_id(choice: str) -> str:
    sys.path.insert(0, str(REPO_ROOT / "layers" / "shared"))
    from lift_alerts.domain.choices import Choice, button_id

    return button_id(ALERT_ID, Choice(choice))


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=None, separators=(", ", ": ")).encode()


def _signed(body: bytes, secret: str | None = None) -> tuple[tuple[str, str], ...]:
    return (
        ("Content-Type", "application/json"),
        ("User-Agent", "Woosh-Bridge-Webhooks/1.0"),
        ("X-Hub-Signature-256", signature_header(body, secret or LOCAL_SECRET_VALUES["webhook_secret"])),
    )


def _bearer(token: str | None = None) -> tuple[tuple[str, str], ...]:
    """Headers of a tap as Woosh Bridge forwards it: its callback token, no Meta signature."""
    return (
        ("Content-Type", "application/json"),
        ("User-Agent", "node"),
        ("Authorization", f"Bearer {token or LOCAL_SECRET_VALUES['callback_token']}"),
    )


def _tap(kind: str, *, context: bool = True, tap_id: str = "wamid.TAP0001") -> dict[str, Any]:
    message: dict[str, Any] = {"from": PHONE, "id": tap_id, "timestamp": TAP_TIMESTAMP}
    if context:
        message["context"] = {"from": BUSINESS_NUMBER, "id": SENT_ID}
    if kind == "interactive":
        message["type"] = "interactive"
        message["interactive"] = {
            "type": "button_reply",
            "button_reply": {"id": _button_id("entrapment"), "title": "Entrapment"},
        }
    else:
        message["type"] = "button"
        message["button"] = {"payload": _button_id("entrapment"), "text": "Entrapment"}
    return webhook_envelope(
        {"contacts": [{"profile": {"name": "John Smith"}, "wa_id": PHONE}], "messages": [message]}
    )


def _statuses(*entries: dict[str, Any]) -> dict[str, Any]:
    return webhook_envelope({"statuses": list(entries)})


# The alert of the README and the event files (tests send it too, with other recipients).
EXAMPLE_ALERT: dict[str, Any] = {
    "ticket_id": "EMG-2024-001",
    "lift_id": "LIFT-A",
    "site": "Sandton Office Park",
    "floor": "3",
    "recipients": ["+27824537125", "+27831234567"],
    "note": "Alarm button pressed in car",
}


def cases() -> list[Case]:
    alert = dict(EXAMPLE_ALERT)
    json_headers = (("Content-Type", "application/json"),)
    verify = LOCAL_SECRET_VALUES["verify_token"]
    interactive = _json(_tap("interactive"))
    delivered = {"id": SENT_ID, "status": "delivered", "timestamp": "1727778630", "recipient_id": PHONE}
    read = {"id": SENT_ID, "status": "read", "timestamp": "1727778660", "recipient_id": PHONE}
    sent = {"id": SENT_ID, "status": "sent", "timestamp": "1727778601", "recipient_id": PHONE}
    failed = {
        "id": "wamid.SENT0002",
        "status": "failed",
        "timestamp": "1727778602",
        "recipient_id": "27831234567",
        "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}],
    }
    woosh_status = _json(
        {"wa_id": SENT_ID, "to": PHONE, "status": "delivered", "timestamp": "2024-10-01T10:30:30Z"}
    )
    return [
        Case("send_alert.json", "POST", "/alerts", 201, _json(alert), json_headers),
        Case(
            "send_alert_idempotent.json",
            "POST",
            "/alerts",
            201,
            _json(alert),
            (*json_headers, ("Idempotency-Key", "EMG-2024-001-attempt")),
        ),
        Case(
            "send_alert_invalid.json",
            "POST",
            "/alerts",
            400,
            _json({**alert, "ticket_id": "", "recipients": ["12"]}),
            json_headers,
        ),
        Case("get_alert_unknown.json", "GET", f"/alerts/{ALERT_ID}", 404),
        Case(
            "close_alert_unknown.json",
            "POST",
            f"/alerts/{ALERT_ID}/close",
            404,
            _json({"reason": "resolved on site"}),
            json_headers,
        ),
        Case(
            "webhook_handshake_ok.json",
            "GET",
            "/webhook",
            200,
            query=f"hub.mode=subscribe&hub.verify_token={verify}&hub.challenge=1158201444",
        ),
        Case(
            "webhook_handshake_bad_token.json",
            "GET",
            "/webhook",
            403,
            query="hub.mode=subscribe&hub.verify_token=wrong-token&hub.challenge=1158201444",
        ),
        Case("webhook_tap_interactive.json", "POST", "/webhook", 200, interactive, _signed(interactive)),
        Case(
            "webhook_tap_template.json",
            "POST",
            "/webhook",
            200,
            b := _json(_tap("template", tap_id="wamid.TAP0002")),
            _signed(b),
        ),
        Case(
            "webhook_tap_without_context.json",
            "POST",
            "/webhook",
            200,
            c := _json(_tap("interactive", context=False, tap_id="wamid.TAP0003")),
            _signed(c),
        ),
        Case(
            "webhook_status_batch.json",
            "POST",
            "/webhook",
            200,
            d := _json(_statuses(read, delivered, sent)),
            _signed(d),
        ),
        Case(
            "webhook_status_failed.json", "POST", "/webhook", 200, f := _json(_statuses(failed)), _signed(f)
        ),
        Case(
            "webhook_woosh_status_callback.json", "POST", "/webhook", 200, woosh_status, _signed(woosh_status)
        ),
        Case(
            "webhook_bad_signature.json",
            "POST",
            "/webhook",
            401,
            interactive,
            _signed(interactive, "not-the-secret"),
        ),
        Case("webhook_unsigned.json", "POST", "/webhook", 401, interactive, json_headers),
        Case(
            "webhook_malformed_body.json",
            "POST",
            "/webhook",
            400,
            m := b'{"object": "whatsapp_business_account", "entry": [',
            _signed(m),
        ),
        Case(
            "webhook_tap_base64_body.json",
            "POST",
            "/webhook",
            200,
            interactive,
            (("Content-Type", "application/octet-stream"), _signed(interactive)[2]),
        ),
        Case(
            "webhook_tap_bearer.json",
            "POST",
            "/webhook",
            200,
            t := _json(_tap("interactive", tap_id="wamid.TAP0004")),
            _bearer(),
        ),
        Case("webhook_bad_bearer.json", "POST", "/webhook", 401, t, _bearer("not-the-callback-token")),
        # The desk (SPEC 13): the ticketing system's IAM routes and the page's JWT routes.
        Case("list_alerts.json", "GET", "/alerts", 200, query="state=open&limit=50"),
        Case("list_alerts_bad_limit.json", "GET", "/alerts", 400, query="limit=0"),
        Case("status.json", "GET", "/status", 200),
        Case("desk_list_alerts.json", "GET", "/desk/api/alerts", 200, query="state=all&limit=20"),
        Case("desk_get_alert_unknown.json", "GET", f"/desk/api/alerts/{ALERT_ID}", 404),
        Case("desk_status.json", "GET", "/desk/api/status", 200),
        Case("desk_page.json", "GET", "/desk", 200),
    ]


def http_event(routes: list[Route], case: Case, index: int) -> tuple[str, dict[str, Any]]:
    builder = EnvironBuilder(
        method=case.method,
        path=case.path,
        query_string=case.query,
        headers=[("Host", "127.0.0.1:3000"), ("User-Agent", "curl/8.5.0"), *case.headers],
        data=case.body,
        environ_base={"REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"},
    )
    request = builder.get_request()
    selected = select_route(routes, case.method, case.path)
    if selected is None:
        raise SystemExit(f"error: no route of template.yaml serves {case.method} {case.path}")
    route, params = selected
    request_id = base64.b32encode(f"event{index:05d}".encode()).decode().rstrip("=")[:16]
    event = build_event(request, route, params, account_id=ACCOUNT_ID, now=FIXED_TIME, request_id=request_id)
    return route.function, event


def write_events(directory: Path = EVENTS_DIR) -> dict[str, dict[str, Any]]:
    template = Template.load()
    routes = template_routes(template)
    directory.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict[str, Any]] = {}
    for index, case in enumerate(cases()):
        function, event = http_event(routes, case, index)
        (directory / case.file).write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")
        expected[case.file] = {"function": function, "status": case.status}
    for logical_id, spec in template.functions().items():
        for source in spec.events_of("Schedule"):
            name = f"{logical_id.removesuffix('Function').lower()}_{source.name.lower()}.json"
            rule = f"arn:aws:events:{region()}:{ACCOUNT_ID}:rule/{STACK_NAME}-{logical_id}{source.name}"
            event = scheduled_event(rule, region=region(), account_id=ACCOUNT_ID)
            event["id"] = "00000000-0000-4000-8000-000000000001"
            event["time"] = "2024-10-01T10:30:00Z"
            (directory / name).write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")
            expected[name] = {"function": logical_id, "status": None}
    (directory / "expected.json").write_text(
        json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return expected


def main() -> int:
    expected = write_events()
    for name, spec in sorted(expected.items()):
        status = spec["status"] if spec["status"] is not None else "-"
        print(f"events/{name:<40} {spec['function']:<20} {status}")
    print(
        f"{len(expected)} events written (signed with the local webhook secret or carrying the local"
        " callback token)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
