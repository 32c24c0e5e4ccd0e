"""Queueing a message that found no send slot (SPEC §11): the `enqueue` hook `send_messages`
calls, storing each message in the send queue in its place (`domain.queue_order`) and waking
the dispatcher, which sends it as soon as the budget allows."""

from __future__ import annotations

from lift_alerts.domain.alert_item import AlertItem
from lift_alerts.domain.contents import Content, StoredContent
from lift_alerts.domain.queue_order import queue_key
from lift_alerts.domain.timestamps import epoch
from lift_alerts.flows.sending import Enqueue
from lift_alerts.platform.clock import utc_now
from lift_alerts.platform.config import Settings
from lift_alerts.platform.observability import count, logger
from lift_alerts.store.send_queue import QueuedSend, SendQueue, wake_dispatcher


def enqueuer(
    queue: SendQueue,
    alert: AlertItem,
    *,
    round_no: int,
    kind: str,
    order: list[str],
    settings: Settings,
    ledger: str | None = None,
    keys: dict[str, str] | None = None,
    content: Content | None = None,
) -> Enqueue:
    """The `enqueue` hook of `send_messages` for one round of one alert, or one follow-up send.

    A first alert or reminder (`ledger` None) is recorded per round; any other kind names the
    alert map its sends are recorded in (`ledger`, each person's key there in `keys`). A text
    is kept as it was worded (`content`, see StoredContent); a kind rendered from the alert
    when its turn comes (KINDS) needs none.
    """
    created_ms = int(alert["created_epoch"]) * 1000
    alert_id = str(alert["alert_id"])

    def enqueue(recipients: list[str]) -> None:
        now = utc_now()
        queue.enqueue(
            [
                QueuedSend(
                    alert_id,
                    round_no,
                    to,
                    kind,
                    queue_key(
                        kind,
                        position=order.index(to) if to in order else len(order),
                        created_ms=created_ms,
                        alert_id=alert_id,
                        round_no=round_no,
                        to=to,
                    ),
                    ledger=ledger,
                    key=(keys or {}).get(to) if ledger is not None else None,
                    content=StoredContent.keep(content, to) if content is not None else None,
                )
                for to in recipients
            ],
            enqueued_at=epoch(now),
            expires_at=epoch(now) + settings.retention_days * 86_400,
        )
        count("MessagesQueued", len(recipients))
        logger.info(
            "messages queued for a send slot",
            extra={"queued": len(recipients), "round": round_no, "kind": kind},
        )
        wake_dispatcher()

    return enqueue
