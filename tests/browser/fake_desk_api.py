"""A FAKE of the desk's read API, a fixture for the desk page's rendering tests (tests/browser).

It is not the service and proves nothing about the real handlers: it lets a browser test load
the real page (functions/desk/page.py's rendering of functions/desk/static/) and feed it
SPEC §13-shaped answers that the test changes between the page's polls. Tests over the local
stack check the real routes.

On 127.0.0.1 and an ephemeral port it serves:
- `GET /desk`: the rendered page with `config` as `window.DESK_CONFIG`;
- `GET /desk/api/alerts?state=open&limit=N&next=C`: the summaries (SPEC §13) of the alerts it
  holds that are not closed, newest first, at most `page_size` (else `limit`) per page, with an
  opaque `next` cursor;
- `GET /desk/api/alerts/{alert_id}`: the alert as held (the shape of GET /alerts/{alert_id}), or
  `404 {"message": ...}`;
- `GET /desk/api/status`: `status`.
`outage` (an HTTP status) answers every API request with it; `token` requires
`Authorization: Bearer <token>` on API requests (`401` otherwise). Every request is recorded.
The builders below (`make_alert`, `message`, `tap`, ...) write alerts in the SPEC's shape.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from functions.desk.page import render_page

DELIVERY_STATUSES = ("queued", "accepted", "sent", "delivered", "read", "failed")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def healthy_status() -> dict[str, Any]:
    return {
        "queued": 0,
        "parked": 0,
        "dead_letters": {"publisher-dlq": 0, "wakeups-dlq": 0},
        "sweep": {"last_run_at": iso(datetime.now(UTC) - timedelta(seconds=20))},
        "send_budget": {"used_last_60s": 12, "limit": 100},
        "alarms": [],
        "problems": [],
    }


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class FakeDeskApi:
    config: dict[str, Any] = field(default_factory=lambda: {"timezone": "Africa/Johannesburg", "auth": None})
    status: dict[str, Any] = field(default_factory=healthy_status)
    page_size: int | None = None
    outage: int | None = None
    token: str | None = None
    requests: list[Request] = field(default_factory=list)
    _alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- what the test changes

    def put(self, *alerts: dict[str, Any]) -> None:
        with self._lock:
            for alert in alerts:
                self._alerts[alert["alert_id"]] = json.loads(json.dumps(alert))

    def update(self, alert_id: str, **changes: Any) -> None:
        with self._lock:
            self._alerts[alert_id].update(json.loads(json.dumps(changes)))

    def remove(self, alert_id: str) -> None:
        with self._lock:
            del self._alerts[alert_id]

    def api_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/desk/api/")]

    # -- the server

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def url(self, path: str = "/desk") -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request."""
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        with self._lock:
            self.requests.append(Request(method, target, headers))
            if method != "GET":
                return _json(405, {"message": "the desk only reads"})
            if path in ("/desk", "/desk/"):
                return 200, "text/html; charset=utf-8", render_page(self.config).encode()
            if not path.startswith("/desk/api/"):
                return _json(404, {"message": "not found"})
            if self.outage is not None:
                return _json(self.outage, {"message": "the fake is down"})
            if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
                return _json(401, {"message": "Unauthorized"})
            if path == "/desk/api/status":
                return _json(200, self.status)
            if path == "/desk/api/alerts":
                return _json(200, self._page(query))
            alert_id = path.removeprefix("/desk/api/alerts/")
            if "/" not in alert_id and alert_id in self._alerts:
                return _json(200, self._alerts[alert_id])
            return _json(404, {"message": f"no alert {alert_id[:64]}"})

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        assert query.get("state") == ["open"], query
        limit = int(query.get("limit", ["50"])[0])
        size = min(limit, self.page_size or limit)
        start = int(base64.urlsafe_b64decode(query["next"][0]).decode()) if "next" in query else 0
        open_alerts = sorted(
            (a for a in self._alerts.values() if a["state"] != "closed"),
            key=lambda a: a["created_at"],
            reverse=True,
        )
        page = open_alerts[start : start + size]
        more = start + size < len(open_alerts)
        cursor = base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None
        return {"alerts": [summary_of(a) for a in page], "next": cursor}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, content_type, body = fake.answer(self.command, self.path, headers)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _json(status: int, body: object) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(body).encode()


def summary_of(alert: dict[str, Any]) -> dict[str, Any]:
    """The list entry GET /alerts gives for an alert (SPEC §13)."""
    deliveries = {"recipients": len(alert["recipients"]), **dict.fromkeys(DELIVERY_STATUSES, 0)}
    for recipient in alert["recipients"]:
        deliveries[recipient["delivery_status"]] += 1
    escalation = alert.get("escalation") or {}
    confirmation = alert.get("confirmation")
    keys = (
        "alert_id",
        "ticket_id",
        "lift_id",
        "site",
        "floor",
        "state",
        "outcome",
        "created_at",
        "first_response",
    )
    return {
        **{key: alert.get(key) for key in keys},
        "rounds_sent": escalation.get("rounds_sent", 0),
        "next_due_at": escalation.get("next_due_at"),
        "confirmation": (
            {k: confirmation.get(k) for k in ("requested_at", "confirmed_at", "missed_at")}
            if confirmation
            else None
        ),
        "deliveries": deliveries,
    }


# ---------------------------------------------------------------- builders (SPEC §4, §9, §10, §13)


def wamid() -> str:
    return f"wamid.{uuid.uuid4().hex[:24].upper()}"


def recipient(
    to: str,
    delivery_status: str = "accepted",
    *,
    error: dict[str, str] | None = None,
    channel: str = "interactive",
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "to": to,
        "message_id": None if delivery_status == "queued" or error else wamid(),
        "delivery_status": delivery_status,
        "channel": channel,
        "notices_skipped": 0,
    }
    if error:
        entry["error"] = error
    return entry


def message(
    at: datetime,
    to: str,
    what: str,
    statuses: list[tuple[str, datetime]],
    *,
    round_: int = 0,
    channel: str = "interactive",
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A `message` timeline entry; `status` is the latest of `statuses` (else accepted)."""
    return {
        "at": iso(at),
        "kind": "message",
        "to": to,
        "what": what,
        "round": round_,
        "channel": channel,
        "message_id": None if error and not statuses else wamid(),
        "status": statuses[-1][0] if statuses else "accepted",
        "statuses": [{"status": s, "at": iso(t)} for s, t in statuses],
        "error": error,
    }


def response(
    at: datetime, wa_id: str, name: str, choice: str, *, matched_by: str = "context"
) -> dict[str, Any]:
    """A `responses` entry (SPEC §4)."""
    return {
        "event_id": wamid(),
        "choice": choice,
        "button_title": choice.capitalize(),
        "responder": {"wa_id": wa_id, "name": name},
        "responded_at": iso(at),
        "matched_by": matched_by,
    }


def tap(taken: dict[str, Any], *, first: bool) -> dict[str, Any]:
    """The `tap` timeline entry of a `responses` entry."""
    return {**taken, "at": taken["responded_at"], "kind": "tap", "first": first}


def received(at: datetime, wa_id: str, name: str, text: str) -> dict[str, Any]:
    """A `messages_received` entry (SPEC §10): a text reply."""
    return {
        "event_id": wamid(),
        "type": "text",
        "text": text,
        "media_id": None,
        "mime_type": None,
        "location": None,
        "from": {"wa_id": wa_id, "name": name},
        "received_at": iso(at),
        "matched_by": "context",
    }


def reply(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "at": entry["received_at"], "kind": "reply"}


def make_alert(
    *,
    created_at: datetime,
    lift_id: str,
    site: str,
    floor: str,
    recipients: list[dict[str, Any]],
    ticket_id: str | None = None,
    state: str = "awaiting_response",
    outcome: str | None = None,
    responses: list[dict[str, Any]] | None = None,
    timeline: list[dict[str, Any]] | None = None,
    messages_received: list[dict[str, Any]] | None = None,
    rounds_sent: int = 0,
    max_rounds: int = 2,
    after_seconds: int = 120,
    confirmation: dict[str, Any] | None = None,
    note: str | None = "Alarm button pressed in car",
    close_reason: str | None = None,
    alert_id: str | None = None,
) -> dict[str, Any]:
    """An alert as GET /alerts/{alert_id} answers (SPEC §4, §9, §10, §13)."""
    responses = responses or []
    next_due = None
    if not responses and state == "awaiting_response" and rounds_sent < max_rounds:
        next_due = iso(created_at + timedelta(seconds=(rounds_sent + 1) * after_seconds))
    return {
        "alert_id": alert_id or uuid.uuid4().hex,
        "ticket_id": ticket_id or f"EMG-{created_at:%Y%m%d}-{uuid.uuid4().hex[:4].upper()}",
        "lift_id": lift_id,
        "site": site,
        "floor": floor,
        "note": note,
        "created_at": iso(created_at),
        "state": state,
        "outcome": outcome,
        "close_reason": close_reason,
        "recipients": recipients,
        "first_response": responses[0] if responses else None,
        "responses": responses,
        "escalation": {
            "after_seconds": after_seconds,
            "max_rounds": max_rounds,
            "rounds_sent": rounds_sent,
            "next_due_at": next_due,
        },
        "confirmation": confirmation,
        "messages_received": messages_received or [],
        "timeline": timeline or [],
    }


JOHN, THANDI, PIETER, NOMSA = "27824537125", "27831234567", "27721112233", "27825550000"
UNDELIVERABLE = {"code": "131026", "title": "Message undeliverable"}


def entrapment_story(now: datetime) -> dict[str, Any]:
    """Sandton's LIFT-A, 4 minutes ago: nobody answered the alert, a reminder went to the
    supervisor too, John tapped Entrapment on it (first), Thandi tapped Maintenance and wrote,
    Pieter's number is undeliverable, the confirmation question waits for a YES."""
    t0 = now - timedelta(minutes=4, seconds=10)
    s = timedelta(seconds=1)
    john_tap = response(t0 + 150 * s, JOHN, "John Smith", "entrapment")
    thandi_tap = response(t0 + 171 * s, THANDI, "Thandi Mokoena", "maintenance")
    thandi_text = received(
        t0 + 190 * s, THANDI, "Thandi Mokoena", "I can hear them, calling the technician now"
    )
    timeline = [
        message(
            t0 + s, JOHN, "alert", [("sent", t0 + 2 * s), ("delivered", t0 + 4 * s), ("read", t0 + 95 * s)]
        ),
        message(t0 + s, THANDI, "alert", [("sent", t0 + 2 * s), ("delivered", t0 + 6 * s)]),
        message(t0 + s, PIETER, "alert", [("failed", t0 + 3 * s)], error=UNDELIVERABLE),
        {"at": iso(t0 + 120 * s), "kind": "escalated", "round": 1, "reason": "no_response"},
        message(t0 + 121 * s, JOHN, "reminder", [("sent", t0 + 122 * s), ("read", t0 + 140 * s)], round_=1),
        message(
            t0 + 121 * s, THANDI, "reminder", [("sent", t0 + 122 * s), ("delivered", t0 + 125 * s)], round_=1
        ),
        message(t0 + 121 * s, PIETER, "reminder", [("failed", t0 + 123 * s)], round_=1, error=UNDELIVERABLE),
        message(t0 + 121 * s, NOMSA, "reminder", [("sent", t0 + 123 * s)], round_=1, channel="template"),
        tap(john_tap, first=True),
        message(
            t0 + 151 * s,
            JOHN,
            "acknowledgement",
            [("sent", t0 + 152 * s), ("delivered", t0 + 153 * s)],
            channel="text",
        ),
        message(
            t0 + 152 * s, THANDI, "notice", [("sent", t0 + 153 * s), ("read", t0 + 160 * s)], channel="text"
        ),
        message(t0 + 152 * s, NOMSA, "notice", [], channel="template"),
        {"at": iso(t0 + 152 * s), "kind": "confirmation_requested"},
        message(t0 + 153 * s, JOHN, "confirmation", [("sent", t0 + 154 * s), ("read", t0 + 158 * s)]),
        message(t0 + 153 * s, THANDI, "confirmation", [("sent", t0 + 154 * s), ("delivered", t0 + 156 * s)]),
        tap(thandi_tap, first=False),
        message(t0 + 172 * s, THANDI, "acknowledgement", [("sent", t0 + 173 * s)], channel="text"),
        reply(thandi_text),
    ]
    return make_alert(
        created_at=t0,
        ticket_id="EMG-2024-001",
        lift_id="LIFT-A",
        site="Sandton Office Park",
        floor="3",
        recipients=[
            recipient(JOHN, "read"),
            recipient(THANDI, "delivered"),
            recipient(PIETER, "failed", error=UNDELIVERABLE),
        ],
        state="answered",
        outcome="entrapment",
        responses=[john_tap, thandi_tap],
        timeline=timeline,
        messages_received=[thandi_text],
        rounds_sent=1,
        confirmation={
            "requested_at": iso(t0 + 152 * s),
            "rounds_sent": 0,
            "next_due_at": iso(t0 + 452 * s),
            "confirmed_at": None,
            "confirmed_by": None,
            "missed_at": None,
        },
    )


def sample_board(now: datetime) -> list[dict[str, Any]]:
    """An evening of load shedding: the entrapment story and five other open alerts."""
    m = timedelta(minutes=1)
    unanswered = make_alert(
        created_at=now - 7 * m,
        lift_id="LIFT-C",
        site="Rosebank Towers",
        floor="12",
        ticket_id="EMG-2024-002",
        recipients=[
            recipient(THANDI, "delivered"),
            recipient("27836667777", "sent"),
            recipient(PIETER, "failed", error=UNDELIVERABLE),
        ],
        state="unanswered",
        rounds_sent=2,
    )
    unanswered["timeline"] = [
        {"at": iso(now - 5 * m), "kind": "escalated", "round": 1, "reason": "no_response"},
        {"at": iso(now - 3 * m), "kind": "escalated", "round": 2, "reason": "no_response"},
        {"at": iso(now - 1 * m), "kind": "unanswered"},
    ]
    fresh = make_alert(
        created_at=now - timedelta(seconds=40),
        lift_id="LIFT-B2",
        site="Menlyn Maine",
        floor="G",
        ticket_id="EMG-2024-006",
        recipients=[
            recipient(JOHN, "queued"),
            recipient(NOMSA, "queued"),
            recipient("447700900123", "accepted"),
        ],
    )
    sipho = response(now - 10 * m, "27827778888", "Sipho Dlamini", "maintenance")
    maintenance = make_alert(
        created_at=now - 12 * m,
        lift_id="LIFT-7",
        site="Umhlanga Ridge",
        floor="5",
        ticket_id="EMG-2024-003",
        recipients=[recipient("27827778888", "read"), recipient(NOMSA, "read")],
        state="answered",
        outcome="maintenance",
        responses=[sipho],
    )
    test = make_alert(
        created_at=now - 25 * m,
        lift_id="LIFT-2",
        site="Century City",
        floor="1",
        ticket_id="EMG-2024-004",
        recipients=[recipient("27795551234", "delivered")],
        state="answered",
        outcome="test",
        responses=[response(now - 24 * m, "27795551234", "", "test")],
    )
    missed = make_alert(
        created_at=now - 38 * m,
        lift_id="LIFT-D",
        site="V&A Waterfront",
        floor="2",
        ticket_id="EMG-2024-005",
        recipients=[recipient(JOHN, "read"), recipient(THANDI, "read")],
        state="answered",
        outcome="entrapment",
        responses=[response(now - 36 * m, THANDI, "Thandi Mokoena", "entrapment")],
        confirmation={
            "requested_at": iso(now - 36 * m),
            "rounds_sent": 3,
            "next_due_at": None,
            "confirmed_at": None,
            "confirmed_by": None,
            "missed_at": iso(now - 16 * m),
        },
    )
    return [fresh, entrapment_story(now), unanswered, maintenance, test, missed]
