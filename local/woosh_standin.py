"""A stand-in Woosh Bridge on loopback: records sends, answers like the real one, simulates webhooks.

This module is its door: what tests, the local stack and `python -m local.woosh_standin` use,
re-exported from the parts under `local/woosh/` (`WooshStandIn` is `local.woosh.standin`).

Send API (as Woosh documents it, SPEC §5): `POST /api/messages/send` with `X-Api-Key`;
interactive button messages, templates with quick-reply buttons and plain text, validated
against WhatsApp's limits; `200 {"ok": true, "wa_id": "wamid.…", "to": "…", "accepted":
true}`, `{"ok": false, "error": "<code>", "message": "…"}` with Woosh's status codes, or
when Meta refuses a template `502 {"ok": false, "error": "(#132000) …", "code": 132000,
"detail": {"error": {…}}}`.

Behaviours of the real Bridge, each switched by a constructor option (and a `main()` flag):
- `callback_token`: webhook POSTs carry `Authorization: Bearer <token>`, `User-Agent: node`
  and no `X-Hub-Signature-256`; without it they are signed with `webhook_secret` instead.
  `signing_secret` adds `X-Woosh-Signature: sha256=<hex HMAC of the raw body>` to status
  dispatches.
- `status_form`: statuses go as Meta's `statuses[]` payload (`meta`, the default), in the
  Bridge's `message.status` wrapper with `X-Woosh-Event`, `X-Woosh-WAID`, `X-Woosh-Tenant`
  (`wrapper`), or both, the Meta payload first (`both`, as the real Bridge duplicates).
- `enforce_window`: an interactive or text message to a person who has not written in the
  last 24 hours is accepted, then a `failed` status with error 131047 is dispatched after
  `window_failure_delay` seconds. Templates are always delivered. Taps and replies the
  stand-in simulates open the sender's window; `wrote()` says someone wrote earlier.
- `templates`: approved template shapes (`TemplateShape`): unknown name 400
  `template_not_found`, wrong number of body parameters 502/132000, language not the
  approved one (none sent means `en_US`) 502/132001, a parameter with a newline, a tab or
  five spaces in a row 502/132018; with static payloads a tap carries the label as payload.
  Without a registry any template name is accepted.
- `rate_limits`: 10 messages a second and 100 in any 60 s per API key, else `429
  rate_limited` with `Retry-After`; `RateLimits(time_scale=0.1)` shrinks both windows.

Control endpoints (JSON in and out; unknown message id 404, bad arguments 400, webhook
unreachable 502):
- `GET /_health` → `{"ok": true}`.
- `GET /_sent` → every send received, oldest first (`to`, `body`, `headers`, `message_id`,
  `status_code`, `buttons`, `error`, `received_at`, `fails_with`).
- `GET /_dispatched` → every webhook POST made (`kind`, `payload`, `headers` with the token
  redacted, `posted`, `status_code`, `response_body`, `error`, `at`), oldest first.
- `GET /_stats` → `{"sent", "accepted", "rate_limited", "dispatched", "window_failures"}`.
- `POST /_tap {"message_id", "choice_index", "from"?, "name"?, "with_context"?, "tap_id"?,
  "user_id_only"?, "timestamp"?, "post"?}` → `{"payload", "status", "body"}` (the webhook's
  answer); opens the tapper's window.
- `POST /_reply {"from", "text", "context_id"?, "name"?, "message_id"?, "user_id_only"?,
  "timestamp"?, "post"?}`: a text reply; with `"type"` and `"content"` (e.g. `{"type":
  "image", "content": {"id": "…", "mime_type": "image/jpeg"}}`) any other message type.
  Opens the sender's window.
- `POST /_status {"message_id", "status", "error_code"?, "error_title"?, "timestamp"?,
  "form"?: "meta" | "wrapper" | "both", "post"?}` → the first POST's `{"payload", "status",
  "body"}` plus `"deliveries"` (all of them).
- `POST /_woosh_status {"message_id", "status", "post"?}`: Woosh's older simplified callback.
- `POST /_wrote {"from", "seconds_ago"?}`: that person wrote that long ago (default now) →
  `{"ok": true, "window_open": …}`.
- `POST /_fail_next {"to"?, "error"?, "status"?, "times"?, "delay"?, "raw_body"?}`: the next
  sends fail (see `fail_next()`).
- `POST /_delay {"seconds"}`: every send waits that long before answering.
- `POST /_reset`: forgets sends, dispatches, faults, windows, rate counts and pending failures.
"""

from __future__ import annotations

from collections.abc import Sequence

from local.woosh.cli import run
from local.woosh.errors import ERROR_MESSAGE, ERROR_STATUS
from local.woosh.inbound import DEFAULT_WINDOW_FAILURE_DELAY
from local.woosh.limits import RateLimits
from local.woosh.payloads import (
    BUSINESS_NUMBER,
    DEFAULT_FAILED_STATUS_ERROR,
    PHONE_NUMBER_ID,
    WABA_ID,
    Dispatch,
    StatusForm,
    signature_header,
    webhook_envelope,
)
from local.woosh.send_api import SEND_PATH, SentMessage
from local.woosh.standin import WooshStandIn
from local.woosh.templates import DEFAULT_TEMPLATE_BUTTON_TEXTS, TemplateShape

__all__ = [
    "BUSINESS_NUMBER",
    "DEFAULT_FAILED_STATUS_ERROR",
    "DEFAULT_TEMPLATE_BUTTON_TEXTS",
    "DEFAULT_WINDOW_FAILURE_DELAY",
    "ERROR_MESSAGE",
    "ERROR_STATUS",
    "PHONE_NUMBER_ID",
    "SEND_PATH",
    "WABA_ID",
    "Dispatch",
    "RateLimits",
    "SentMessage",
    "StatusForm",
    "TemplateShape",
    "WooshStandIn",
    "main",
    "signature_header",
    "webhook_envelope",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the stand-in alone: `python -m local.woosh_standin --port 8081 --webhook-url ...` (`--help`)."""
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
