"""What the stand-in Bridge posts to the webhook, and the headers that authenticate it.

The real Bridge forwards Meta's own payloads (taps, text replies, statuses) unchanged and
dispatches its own status events in a `message.status` wrapper (SPEC §6,
whatsapp-notes.md "Woosh Bridge as it really behaves"). It authenticates both with
`Authorization: Bearer <callback token>`, never with Meta's `X-Hub-Signature-256`, and adds
`X-Woosh-Signature` to status dispatches when signing is enabled.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Literal

BUSINESS_NUMBER = "27123456789"
PHONE_NUMBER_ID = "753321277868753"
WABA_ID = "102290129340398"
DEFAULT_TENANT_ID = "tenant-local"
# The real Bridge is a Node service; its documentation says `Woosh-Bridge/1.0`, the wire says this.
BRIDGE_USER_AGENT = "node"

DEFAULT_FAILED_STATUS_ERROR = (131026, "Message undeliverable")
REENGAGEMENT_ERROR = (131047, "Re-engagement message")
_ERROR_DETAILS = {
    131047: "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number.",
}

StatusForm = Literal["meta", "wrapper", "both"]
"""How statuses reach the webhook: Meta's `statuses[]` payload, the Bridge's `message.status`
wrapper, or both (the real Bridge forwards Meta's payload and dispatches the wrapper too)."""
STATUS_FORMS: tuple[StatusForm, ...] = ("meta", "wrapper", "both")


def signature_header(raw: bytes, secret: str) -> str:
    """The `sha256=<hex HMAC-SHA256>` value of `X-Hub-Signature-256` / `X-Woosh-Signature` for `raw`."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebhookCredentials:
    """What the stand-in authenticates its webhook POSTs with.

    With a `callback_token` it behaves like the real Bridge: Bearer token, no Meta signature.
    Without one it signs with `webhook_secret` as a direct Meta subscription would (the
    stand-in's behaviour before the webhook learnt Bearer tokens).
    """

    callback_token: str | None = None
    webhook_secret: str | None = None
    signing_secret: str | None = None

    def headers(self, raw: bytes, *, status_dispatch: bool = False) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": BRIDGE_USER_AGENT}
        if self.callback_token is not None:
            headers["Authorization"] = f"Bearer {self.callback_token}"
        elif self.webhook_secret is not None:
            headers["X-Hub-Signature-256"] = signature_header(raw, self.webhook_secret)
        else:
            raise RuntimeError("no callback token or webhook secret to authenticate the webhook POST with")
        if status_dispatch and self.signing_secret is not None:
            headers["X-Woosh-Signature"] = signature_header(raw, self.signing_secret)
        return headers


def webhook_envelope(value: dict[str, Any]) -> dict[str, Any]:
    """A WhatsApp webhook body with one `messages` change carrying `value` (contacts, messages, statuses)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": BUSINESS_NUMBER,
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def inbound_message(
    sender: str,
    message_id: str,
    timestamp: int,
    message_type: str,
    content: dict[str, Any],
    *,
    name: str,
    context_id: str | None = None,
    user_id_only: bool = False,
) -> dict[str, Any]:
    """Meta's payload for one message from `sender` (digits): a tap, a text, an image, ….

    `content` is the type's own object (`{"body": …}` for text); `user_id_only` identifies the
    sender by a business-scoped user id only, as WhatsApp starts doing in 2026.
    """
    message: dict[str, Any] = {"id": message_id, "timestamp": str(timestamp)}
    contact: dict[str, Any] = {"profile": {"name": name}}
    if user_id_only:
        user_id = f"ZA.{sender}"
        message["from_user_id"] = user_id
        contact["user_id"] = user_id
    else:
        message["from"] = sender
        contact["wa_id"] = sender
    if context_id is not None:
        message["context"] = {"from": BUSINESS_NUMBER, "id": context_id}
    message["type"] = message_type
    message[message_type] = content
    return webhook_envelope({"contacts": [contact], "messages": [message]})


def tap_content(template: bool, payload: str, label: str) -> tuple[str, dict[str, Any]]:
    """The message type and content of a tap: a template quick reply or an interactive button reply."""
    if template:
        return "button", {"payload": payload, "text": label}
    return "interactive", {"type": "button_reply", "button_reply": {"id": payload, "title": label}}


def status_entry(
    message_id: str,
    status: str,
    recipient: str,
    timestamp: int,
    *,
    error_code: int | None = None,
    error_title: str | None = None,
) -> dict[str, Any]:
    """One `statuses[]` item as Meta reports it (errors only on failures or when a code is given)."""
    entry: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": recipient,
    }
    if status == "failed" or error_code is not None:
        code = error_code if error_code is not None else DEFAULT_FAILED_STATUS_ERROR[0]
        title = error_title or (
            REENGAGEMENT_ERROR[1] if code == REENGAGEMENT_ERROR[0] else DEFAULT_FAILED_STATUS_ERROR[1]
        )
        details = _ERROR_DETAILS.get(code, title)
        entry["errors"] = [
            {"code": code, "title": title, "message": title, "error_data": {"details": details}}
        ]
    return entry


def status_wrapper(
    entry: dict[str, Any], tenant_id: str, *, event_time: float | None = None
) -> dict[str, Any]:
    """The Bridge's own status dispatch for a Meta `statuses[]` item (samples/woosh_status_wrapper.json)."""
    moment = time.time() if event_time is None else event_time
    millis = int(moment * 1000) % 1000
    event_ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"
    billable = entry["status"] != "failed"
    data: dict[str, Any] = {
        "id": entry["id"],
        "status": entry["status"],
        "timestamp": entry["timestamp"],
        "recipient_id": entry["recipient_id"],
        "conversation": {"id": f"conversation-{entry['recipient_id']}", "origin": {"type": "utility"}},
        "pricing": {"billable": billable, "pricing_model": "CBP", "category": "utility"},
    }
    if "errors" in entry:
        data["errors"] = entry["errors"]
    return {
        "type": "message.status",
        "wa_id": entry["id"],
        "event_ts": event_ts,
        "tenant_id": tenant_id,
        "data": data,
    }


def status_wrapper_headers(message_id: str, tenant_id: str) -> dict[str, str]:
    return {"X-Woosh-Event": "message.status", "X-Woosh-WAID": message_id, "X-Woosh-Tenant": tenant_id}


def simple_status(message_id: str, recipient: str, status: str) -> dict[str, Any]:
    """Woosh's older simplified status callback (samples/woosh_status_callback.json)."""
    return {
        "wa_id": message_id,
        "to": recipient,
        "status": status,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass(frozen=True)
class Dispatch:
    """One POST the stand-in made (or would have made: `posted` False without a webhook URL)."""

    kind: str  # tap, message, status, message.status, woosh_status or raw
    payload: Any
    headers: dict[str, str]
    posted: bool
    status_code: int | None = None
    response_body: str | None = None
    error: str | None = None
    at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        # Authorization holds the callback token: a control client sees that one was sent, not its value.
        headers = {k: ("Bearer <redacted>" if k == "Authorization" else v) for k, v in self.headers.items()}
        return {
            "kind": self.kind,
            "payload": self.payload,
            "headers": headers,
            "posted": self.posted,
            "status_code": self.status_code,
            "response_body": self.response_body,
            "error": self.error,
            "at": self.at,
        }
