"""The stand-in's simulated inbound traffic: taps, replies, other messages and statuses.

What people and WhatsApp send the business reaches our webhook through the Bridge; the
stand-in makes it up on request (`tap`, `reply`, `inbound`, `status`, `woosh_status`) and
posts it with the Bridge's credentials (`Authorization: Bearer` with a callback token, else
Meta's signature). `post_webhook` posts anything else, and `fail_later` plays WhatsApp's
delayed 131047 failure of a message sent outside the 24-hour window.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections.abc import Mapping
from typing import Any

import requests

from local.woosh.delivery import DelayedCalls, WebhookDelivery
from local.woosh.limits import ReplyWindows
from local.woosh.payloads import (
    STATUS_FORMS,
    StatusForm,
    WebhookCredentials,
    inbound_message,
    simple_status,
    status_entry,
    status_wrapper,
    status_wrapper_headers,
    tap_content,
    webhook_envelope,
)
from local.woosh.recording import SendRecord
from local.woosh.send_api import digits

DEFAULT_WINDOW_FAILURE_DELAY = 0.3


class SimulatedInbound:
    """Messages and statuses for recorded sends, posted to `webhook_url` as the Bridge forwards them.

    The base of `WooshStandIn`, which shares its `SendRecord` and `ReplyWindows`: a tap answers
    a recorded send, and every message from a person opens their 24-hour window.
    """

    def __init__(
        self,
        sends: SendRecord,
        windows: ReplyWindows,
        *,
        webhook_url: str | None,
        webhook_secret: str | None,
        callback_token: str | None,
        signing_secret: str | None,
        tenant_id: str,
        status_form: StatusForm,
        window_failure_delay: float,
    ) -> None:
        if status_form not in STATUS_FORMS:
            raise ValueError(f"status_form must be one of {', '.join(STATUS_FORMS)}")
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.callback_token = callback_token
        self.signing_secret = signing_secret
        self.tenant_id = tenant_id
        self.status_form: StatusForm = status_form
        self.window_failure_delay = max(0.0, window_failure_delay)
        self._sends = sends
        self._windows = windows
        self._inbound_counter = itertools.count(1)
        self._delivery = WebhookDelivery()
        self._later = DelayedCalls()

    @property
    def credentials(self) -> WebhookCredentials:
        return WebhookCredentials(self.callback_token, self.webhook_secret, self.signing_secret)

    def tap(
        self,
        message_id: str,
        choice_index: int,
        *,
        from_: str | None = None,
        name: str = "Test User",
        with_context: bool = True,
        tap_id: str | None = None,
        user_id_only: bool = False,
        timestamp: int | None = None,
        post: bool = True,
    ) -> dict[str, Any]:
        """A tap on button `choice_index` of a recorded send, as WhatsApp reports it."""
        sent = self._sends.message(message_id)
        if not 0 <= choice_index < len(sent.buttons):
            raise IndexError(f"message {message_id} has {len(sent.buttons)} buttons, no index {choice_index}")
        payload_or_id, label = sent.buttons[choice_index]
        message_type, content = tap_content(sent.kind == "template", payload_or_id, label)
        return self.inbound(
            from_ or sent.to,
            message_type,
            content,
            context_id=message_id if with_context else None,
            name=name,
            message_id=tap_id or self._new_inbound_id("TAP"),
            user_id_only=user_id_only,
            timestamp=timestamp,
            post=post,
            kind="tap",
        )

    def reply(self, from_: str, text: str, **options: Any) -> dict[str, Any]:
        """A text from `from_`, quoting `options["context_id"]` when given
        (samples/reply_text_with_context.json); `options` as `inbound` takes them."""
        return self.inbound(from_, "text", {"body": text}, **options)

    def inbound(
        self,
        from_: str,
        message_type: str,
        content: dict[str, Any],
        *,
        context_id: str | None = None,
        name: str = "Test User",
        message_id: str | None = None,
        user_id_only: bool = False,
        timestamp: int | None = None,
        post: bool = True,
        kind: str = "message",
    ) -> dict[str, Any]:
        """Any message from `from_` (`image`, `location`, …, with that type's `content`), forwarded
        as Meta's payload. Like every message from a person, it opens their 24-hour window."""
        sender = digits(from_)
        moment = timestamp if timestamp is not None else int(time.time())
        self._windows.wrote(sender, float(moment))
        payload = inbound_message(
            sender,
            message_id or self._new_inbound_id(message_type.upper()),
            moment,
            message_type,
            content,
            name=name,
            context_id=context_id,
            user_id_only=user_id_only,
        )
        return self._deliver(kind, payload, post)

    def status(
        self,
        message_id: str,
        status: str,
        *,
        error_code: int | None = None,
        error_title: str | None = None,
        timestamp: int | None = None,
        form: StatusForm | None = None,
        post: bool = True,
    ) -> dict[str, Any]:
        """A status update for a recorded send, in `form` (default: the stand-in's `status_form`).

        Returns the first POST's `payload`, `status` and `body`, and `deliveries`: all of them.
        """
        sent = self._sends.message(message_id)
        moment = timestamp if timestamp is not None else int(time.time())
        entry = status_entry(
            message_id, status, sent.to, moment, error_code=error_code, error_title=error_title
        )
        chosen = form or self.status_form
        deliveries = []
        if chosen in ("meta", "both"):
            deliveries.append(self._deliver("status", webhook_envelope({"statuses": [entry]}), post))
        if chosen in ("wrapper", "both"):
            wrapper = status_wrapper(entry, self.tenant_id)
            extra = status_wrapper_headers(message_id, self.tenant_id)
            deliveries.append(self._deliver("message.status", wrapper, post, extra, status_dispatch=True))
        return {**deliveries[0], "deliveries": deliveries}

    def woosh_status(self, message_id: str, status: str, *, post: bool = True) -> dict[str, Any]:
        """Woosh's own simplified status callback for a recorded send."""
        sent = self._sends.message(message_id)
        return self._deliver(
            "woosh_status", simple_status(message_id, sent.to, status), post, status_dispatch=True
        )

    def post_webhook(
        self,
        payload: dict[str, Any] | bytes,
        *,
        sign: bool = True,
        secret: str | None = None,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST a payload (dict or raw bytes) to the webhook URL.

        With `sign` it carries the stand-in's credentials (Bearer token, else the
        `X-Hub-Signature-256` of `webhook_secret`); `secret` signs with another secret and
        `token` sends another Bearer token instead; `headers` are added last.
        """
        if not self.webhook_url:
            raise RuntimeError("the stand-in has no webhook_url to post to")
        credentials: WebhookCredentials | None = None
        if sign:
            credentials = (
                WebhookCredentials(callback_token=token, webhook_secret=secret)
                if secret is not None or token is not None
                else self.credentials
            )
            if credentials.callback_token is None and credentials.webhook_secret is None:
                raise RuntimeError("no webhook secret to sign with")
        return self._delivery.post_raw(self.webhook_url, payload, credentials, headers)

    def fail_later(self, message_id: str, code: int, title: str) -> None:
        """A `failed` status for an accepted send after `window_failure_delay` (the 24-hour rule)."""

        def fail() -> None:
            # An unreachable webhook is recorded in `dispatched`; a message forgotten by reset() is gone.
            with contextlib.suppress(requests.RequestException, KeyError, RuntimeError):
                self.status(message_id, "failed", error_code=code, error_title=title)

        self._later.schedule(self.window_failure_delay, fail)

    def _deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        post: bool,
        extra_headers: Mapping[str, str] | None = None,
        *,
        status_dispatch: bool = False,
    ) -> dict[str, Any]:
        if not post:
            return {"payload": payload, "status": None, "body": None}
        return self._delivery.deliver(
            self.webhook_url, self.credentials, kind, payload, extra_headers, status_dispatch=status_dispatch
        )

    def _new_inbound_id(self, kind: str) -> str:
        return f"wamid.{kind}{next(self._inbound_counter):04d}{uuid.uuid4().hex[:12].upper()}"
