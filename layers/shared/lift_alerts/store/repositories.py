"""Every repository over the alerts table, as one object a flow is given.

One table holds every item family (SPEC §2: on-demand, one key `pk`), and each family has its
repository, which owns its keys and condition expressions; a flow reaches them through this
bundle instead of being handed seven objects. They share the container's one DynamoDB client
(made on first use).
"""

from __future__ import annotations

from dataclasses import dataclass

from lift_alerts.store.alerts import AlertRepository
from lift_alerts.store.answers import AnswerRepository
from lift_alerts.store.contacts import ContactRepository
from lift_alerts.store.ledgers import LedgerRepository
from lift_alerts.store.messages import MessageRepository
from lift_alerts.store.send_queue import SendQueue
from lift_alerts.store.timed_steps import ConfirmationSteps, EscalationSteps


@dataclass(frozen=True)
class Repositories:
    table_name: str
    alerts: AlertRepository
    answers: AnswerRepository
    messages: MessageRepository
    contacts: ContactRepository
    ledgers: LedgerRepository
    escalation: EscalationSteps
    confirmation: ConfirmationSteps
    queue: SendQueue

    @classmethod
    def of(cls, table_name: str) -> Repositories:
        return cls(
            table_name=table_name,
            alerts=AlertRepository(table_name),
            answers=AnswerRepository(table_name),
            messages=MessageRepository(table_name),
            contacts=ContactRepository(table_name),
            ledgers=LedgerRepository(table_name),
            escalation=EscalationSteps(table_name),
            confirmation=ConfirmationSteps(table_name),
            queue=SendQueue(table_name),
        )
