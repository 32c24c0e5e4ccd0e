"""What each kind of message says, in the form each WhatsApp channel needs (SPEC §5, §9, §10).

A `Content` gives the channel for a person whose 24-hour window is open (`inside`), the one
for everyone else (`outside`: a template, or None when no template is configured for this
kind, and then such a person is skipped and counted), and the Bridge body for a channel.
`flows.sending.send_messages` sends any of them. Pure: bodies are built, never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from lift_alerts.domain.channels import Channel, window_open
from lift_alerts.domain.choices import CONFIRM_LABEL, confirm_button_id
from lift_alerts.domain.ledgers import follow_up_template
from lift_alerts.domain.outbound import (
    AlertFacts,
    alert_text,
    buttons_body,
    interactive_body,
    template_body,
    text_body,
    text_template_body,
)
from lift_alerts.domain.timestamps import epoch
from lift_alerts.domain.wording import confirmation_question
from lift_alerts.platform.config import Settings


class Content(Protocol):
    """What one kind of message says, in the form each channel needs (SPEC §5, §10).

    `inside` is the channel for a person whose 24-hour window is open; `outside` the channel
    for everyone else (a template), or None when no template is configured for this kind:
    then such a person is skipped, and the caller counts the skip.
    """

    @property
    def kind(self) -> str: ...
    @property
    def inside(self) -> Channel: ...
    @property
    def outside(self) -> Channel | None: ...
    def body(self, to: str, channel: Channel) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class RoundContent:
    """A message sent in an alert's numbered rounds, then as its reminders (`reminder` is
    (n, N) for REMINDER n/N): reply buttons inside the 24-hour window."""

    settings: Settings
    facts: AlertFacts
    alert_id: str
    reminder: tuple[int, int] | None = None
    # The message kind of the first send and of its reminders.
    kinds: ClassVar[tuple[str, str]]

    @property
    def kind(self) -> str:
        return self.kinds[1] if self.reminder else self.kinds[0]

    @property
    def inside(self) -> Channel:
        return "interactive"


@dataclass(frozen=True)
class AlertContent(RoundContent):
    """The alert itself (round 0) or a reminder: the three buttons, or the alert template."""

    kinds: ClassVar[tuple[str, str]] = ("alert", "reminder")

    @property
    def outside(self) -> Channel:
        # Without a template, interactive is all there is: it reaches only people who wrote
        # in the last 24 hours (the README says so plainly).
        return "template" if self.settings.template_name else "interactive"

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        if channel == "template":
            if not self.settings.template_name:
                return None
            return template_body(
                to,
                self.facts,
                self.alert_id,
                name=self.settings.template_name,
                language=self.settings.template_language,
                params=self.settings.template_params,
                reminder=self.reminder,
            )
        return interactive_body(to, alert_text(self.facts, reminder=self.reminder), self.alert_id)


@dataclass(frozen=True)
class ConfirmContent(RoundContent):
    """The YES question (step 0) or its reminder: one reply button YES, or CONFIRM_TEMPLATE_NAME
    outside the 24-hour window (one body variable, one quick reply YES); without that
    template a person outside the window is skipped and counted."""

    kinds: ClassVar[tuple[str, str]] = ("confirm_request", "confirm_reminder")

    @property
    def outside(self) -> Channel | None:
        return "template" if self.settings.confirm_template_name else None

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        text = confirmation_question(self.facts, reminder=self.reminder)
        button = confirm_button_id(self.alert_id)
        if channel != "template":
            return buttons_body(to, text, [(button, CONFIRM_LABEL)])
        if not self.settings.confirm_template_name:
            return None
        yes = {
            "type": "button",
            "sub_type": "quick_reply",
            "index": "0",
            "parameters": [{"type": "payload", "payload": button}],
        }
        return text_template_body(
            to,
            name=self.settings.confirm_template_name,
            language=self.settings.template_language,
            text=text,
            buttons=(yes,),
        )


@dataclass(frozen=True)
class NoticeContent:
    """A follow-up text (SPEC §5, §10): `{to, text}` inside the window, else the notice template.

    The notice template (NOTICE_TEMPLATE_NAME) has one body variable, the text made safe for
    Meta; without it a person outside the window is skipped. `text_only` (acknowledgements:
    the person just wrote) sends text to everyone without looking the window up.
    """

    settings: Settings
    text: str
    kind: str = "notice"
    text_only: bool = False

    @property
    def inside(self) -> Channel:
        return "text"

    @property
    def outside(self) -> Channel | None:
        if self.text_only:
            return "text"
        return "template" if self.settings.notice_template_name else None

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        if channel != "template":
            return text_body(to, self.text)
        name = follow_up_template(self.settings, self.kind)
        if not name:
            return None
        return text_template_body(to, name=name, language=self.settings.template_language, text=self.text)


def notice(settings: Settings, kind: str, text: str) -> NoticeContent:
    """A follow-up text of `kind` (an acknowledgement, a confirmation's outcome notice, …)."""
    return NoticeContent(settings, text, kind)


def notice_fallback_content(settings: Settings, entry: dict[str, Any]) -> NoticeContent | None:
    """What a follow-up message's 131047 template fallback sends: the text its entry kept."""
    text, kind = entry.get("text"), str(entry.get("kind"))
    if not text or follow_up_template(settings, kind) is None:
        return None
    return NoticeContent(settings, str(text), kind)


@dataclass(frozen=True)
class ReplyAck:
    """The acknowledgement of one reply: a text, sent inside the person's 24-hour window.

    The reply itself opened that window, so a fresh reply needs no look-up (`outside` is text
    too). A reply processed over a day late (parked through a long outage) is acknowledged
    only if the person wrote again since; there is no template for it.
    """

    text: str
    fresh: bool

    @property
    def kind(self) -> str:
        return "reply_ack"

    @property
    def inside(self) -> Channel:
        return "text"

    @property
    def outside(self) -> Channel | None:
        return "text" if self.fresh else None

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        if channel != "text":
            return None
        return text_body(to, self.text)


def fresh(received_at: Any, now: datetime) -> bool:
    try:
        written = epoch(datetime.fromisoformat(str(received_at).replace("Z", "+00:00")))
    except ValueError:
        return False
    return window_open(written, epoch(now))


@dataclass(frozen=True)
class StoredContent:
    """A text kept on its queue item as it was worded (a `Content`): the channel for a person
    inside the window, the one outside it (None: skipped), and the body for each channel."""

    kind: str
    inside: Channel
    outside: Channel | None
    bodies: dict[str, dict[str, Any]]

    def body(self, to: str, channel: Channel) -> dict[str, Any] | None:
        return self.bodies.get(channel)

    @staticmethod
    def keep(content: Content, to: str) -> dict[str, Any]:
        """What the queue item keeps of `content` for `to`."""
        channels = {content.inside, content.outside, "template"} - {None}
        bodies = {
            str(c): body for c in channels if c is not None and (body := content.body(to, c)) is not None
        }
        return {"kind": content.kind, "inside": content.inside, "outside": content.outside, "bodies": bodies}

    @classmethod
    def of(cls, kept: dict[str, Any]) -> StoredContent:
        return cls(str(kept["kind"]), kept["inside"], kept.get("outside"), dict(kept.get("bodies") or {}))
