"""How the story talks and how it fails: printed lines, one per message or event, and checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from local.demo.messages import headline


class StoryError(AssertionError):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StoryError(message)


def show_message(message: dict[str, Any], suffix: str = "") -> None:
    buttons = " | ".join(title for _id, title in message["buttons"])
    kind = message["body"].get("type", "text")
    say(
        f'  to {message["to"]}  {kind:<11} {message["message_id"][:22]}…  "{headline(message)}"'
        f"  [{buttons}]{suffix}"
    )


def show_event(event: dict[str, Any]) -> None:
    detail = event["detail"]
    kind = event["detail-type"]
    if kind == "Alert Response Received":
        say(
            f"  {kind}: ticket {detail['ticket_id']} {detail['lift_id']}"
            f" choice={detail['choice']} outcome={detail.get('outcome')}"
            f" first_response={detail['first_response']} matched_by={detail['matched_by']}"
            f" by {detail['responder'].get('name')}"
        )
    elif kind == "Alert Escalated":
        say(
            f"  {kind}: ticket {detail['ticket_id']} {detail['lift_id']} round={detail['round']}"
            f" reason={detail['reason']} recipients={', '.join(detail['recipients'])}"
        )
    else:
        say(f"  {kind}: ticket {detail.get('ticket_id')} {json.dumps(detail, sort_keys=True)}")


def clock_seconds(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%H:%M:%S")
