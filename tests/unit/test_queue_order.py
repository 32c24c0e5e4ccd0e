"""The SendQueue's order (SPEC §11): first recipients of the oldest alarm first, then the rest; pure."""

from __future__ import annotations

from lift_alerts.domain import queue_order


def test_the_queue_order_is_first_recipients_oldest_alarm_first_then_the_rest() -> None:
    def key(kind: str, position: int, created_ms: int, alert_id: str, round_no: int = 0) -> str:
        return queue_order.queue_key(
            kind, position=position, created_ms=created_ms, alert_id=alert_id, round_no=round_no, to="1"
        )

    waiting = {
        "old alarm, 2nd": key("alert", 1, 1000, "a"),
        "new alarm, 1st": key("alert", 0, 2000, "b"),
        "old alarm, 1st": key("alert", 0, 1000, "a"),
        "new alarm, 2nd": key("alert", 1, 2000, "b"),
        "confirm": key("confirm", 0, 500, "c"),
        "reminder": key("reminder", 0, 100, "d", 1),
        "critical": key("critical", 0, 200, "e"),
        "ack": key("ack", 0, 50, "f"),
        "notice": key("notice", 0, 60, "g"),
    }
    order = [name for name, _ in sorted(waiting.items(), key=lambda kv: kv[1])]
    assert order == [
        "old alarm, 1st",
        "new alarm, 1st",
        "old alarm, 2nd",
        "new alarm, 2nd",
        "confirm",
        "reminder",
        "critical",
        "ack",
        "notice",
    ]
