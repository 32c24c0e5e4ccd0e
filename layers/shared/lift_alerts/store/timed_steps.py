"""The timed steps of an alert (SPEC §9, §10): which alerts are due, found through sparse
indexes (never a scan), and the conditional writes that make each step run exactly once: a
claim (a lease) before anything is sent, then the step's completion.

Escalation uses `DueIndex` (`due_shard`/`due_at`), the entrapment confirmation
`ConfirmDueIndex` (`confirm_shard`/`confirm_due_at`); both keys are present only while a step
waits.
"""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.alert_item import Confirmation, Failure, MessageRef
from lift_alerts.store.alerts import CONFIRM_SHARD, DUE_SHARD, AlertTable, alert_key, count_skips
from lift_alerts.store.codec import expression_values, set_entries
from lift_alerts.store.table import NotWritten, Written


class TimedSteps(AlertTable):
    """What both kinds of timed step share: the due query and the claim."""

    def _due_ids(
        self, index: str, shard_attr: str, due_attr: str, shard: str, now: int, limit: int
    ) -> list[str]:
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": f"{shard_attr} = :shard AND {due_attr} <= :now",
            "ExpressionAttributeValues": expression_values(shard=shard, now=now),
        }
        while len(ids) < limit:
            response = self._db.query(**kwargs)
            ids += [str(item["pk"]["S"]).removeprefix("alert#") for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return ids[:limit]

    def _claim(
        self,
        alert_id: str,
        *,
        claim_attr: str,
        claim: dict[str, Any],
        now: int,
        condition: str,
        values: dict[str, Any],
    ) -> Written[None] | NotWritten:
        """The timer's claim on one step of an alert, taken before anything is sent (SPEC §9).

        `condition` says the step is due and not yet done; on top of it no other run may hold a
        live claim. A claim whose lease ran out (its run crashed half way) can be taken over:
        the new run sends only to those the crashed one did not record.
        """
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression=f"SET {claim_attr} = :claim",
            ConditionExpression=(
                f"{condition} AND (attribute_not_exists({claim_attr}) OR {claim_attr}.lease_until < :now)"
            ),
            ExpressionAttributeValues=expression_values(now=now, claim=claim, **values),
        )


class EscalationSteps(TimedSteps):
    """Escalation rounds and the unanswered mark (SPEC §9)."""

    def due_alert_ids(self, now: int, *, limit: int = 200) -> list[str]:
        """Alerts whose next escalation step is due, from the sparse index (never a scan)."""
        return self._due_ids("DueIndex", "due_shard", "due_at", DUE_SHARD, now, limit)

    def claim_step(
        self, alert_id: str, *, step: int, rounds_sent: int, now: int, lease_until: int, reason: str
    ) -> Written[None] | NotWritten:
        """Claim escalation step `step` (a round, or the final 'unanswered' step) for this timer run.

        Not written when another run holds a live claim, the round was already sent, someone
        tapped, or the alert was closed. An expired claim (a run that crashed half way) can be
        taken over.
        """
        return self._claim(
            alert_id,
            claim_attr="claim",
            claim={"step": step, "lease_until": lease_until, "reason": reason},
            now=now,
            condition=(
                "attribute_exists(due_at) AND due_at <= :now AND rounds_sent = :sent "
                "AND size(responses) = :zero AND attribute_not_exists(closed_at) "
                "AND attribute_not_exists(unanswered_at)"
            ),
            values={"sent": rounds_sent, "zero": 0},
        )

    def clear_due(self, alert_id: str) -> Written[None] | NotWritten:
        """Drop a stale index entry of an alert that no longer escalates (not written: it
        escalates again, or is gone)."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="REMOVE due_shard, due_at",
            ConditionExpression=(
                "attribute_exists(pk) AND (size(responses) > :zero OR attribute_exists(closed_at) "
                "OR attribute_exists(unanswered_at))"
            ),
            ExpressionAttributeValues=expression_values(zero=0),
        )

    def bring_forward(self, alert_id: str, *, round_no: int, now: int) -> Written[None] | NotWritten:
        """All deliveries of the latest round failed: make the next step due now."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="SET due_at = :now",
            ConditionExpression="rounds_sent = :n AND attribute_exists(due_at) AND due_at > :now",
            ExpressionAttributeValues=expression_values(n=round_no, now=now),
        )

    def mark_unanswered(self, alert_id: str, *, at: str) -> Written[None] | NotWritten:
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="SET unanswered_at = :at REMOVE due_shard, due_at, claim",
            ConditionExpression=(
                "size(responses) = :zero AND attribute_not_exists(closed_at) "
                "AND attribute_not_exists(unanswered_at)"
            ),
            ExpressionAttributeValues=expression_values(at=at, zero=0),
        )


class ConfirmationSteps(TimedSteps):
    """The entrapment confirmation's request, reminders and missed mark (SPEC §10)."""

    def start_confirmation(
        self, alert_id: str, confirmation: Confirmation, *, due_at: int
    ) -> Written[None] | NotWritten:
        """Ask for a confirmation once per alert: not written when it was asked before or the
        alert is closed. The index key makes the request (step 0) due at `due_at`."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression=(
                "SET confirmation = :c, confirm_sends = :empty, confirm_shard = :shard, confirm_due_at = :due"
            ),
            ConditionExpression=(
                "attribute_exists(pk) AND attribute_not_exists(confirmation) "
                "AND attribute_not_exists(closed_at)"
            ),
            ExpressionAttributeValues=expression_values(
                c=confirmation, empty={}, shard=CONFIRM_SHARD, due=due_at
            ),
        )

    def confirmation_due_ids(self, now: int, *, limit: int = 200) -> list[str]:
        """Alerts whose next confirmation step is due, from ConfirmDueIndex (never a scan)."""
        return self._due_ids("ConfirmDueIndex", "confirm_shard", "confirm_due_at", CONFIRM_SHARD, now, limit)

    def claim_confirmation_step(
        self, alert_id: str, *, step: int, now: int, lease_until: int
    ) -> Written[None] | NotWritten:
        """Claim confirmation step `step` (0 the request, 1..N reminders, N+1 missed) for one run.

        Not written when it is not due, was done, the provider was confirmed, the confirmation
        was missed, the alert was closed, or another run holds a live claim.
        """
        return self._claim(
            alert_id,
            claim_attr="confirm_claim",
            claim={"step": step, "lease_until": lease_until},
            now=now,
            condition=(
                "attribute_exists(confirm_due_at) AND confirm_due_at <= :now "
                "AND confirmation.steps_done = :step AND attribute_not_exists(confirmation.confirmed_at) "
                "AND attribute_not_exists(confirmation.missed_at) AND attribute_not_exists(closed_at)"
            ),
            values={"step": step},
        )

    def record_confirmation_step(
        self,
        alert_id: str,
        *,
        step: int,
        messages: dict[str, MessageRef],
        failures: dict[str, Failure],
        skipped: list[str],
        next_due_at: int,
        next_due_iso: str,
    ) -> Written[None] | NotWritten:
        """Complete a confirmation step in one write, once: its message mappings (taps on them
        match by context), failures, people skipped, and when the next step is due. Not
        written: another run (that took over this step) completed it first.

        The index key is set even if a YES came meanwhile; the timer then finds the alert
        confirmed and clears it (setting it later could be lost in a crash).
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = expression_values(
            step=step, done=step + 1, shard=CONFIRM_SHARD, due=next_due_at, due_iso=next_due_iso
        )
        sets = [
            "confirmation.steps_done = :done",
            "confirmation.rounds_sent = :step",
            "confirmation.next_due_at = :due_iso",
            "confirm_shard = :shard",
            "confirm_due_at = :due",
        ]
        set_entries(names, values, sets, "messages", messages)
        set_entries(names, values, sets, "failures", failures)
        count_skips(skipped, names, values, sets)
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE confirm_claim",
            ConditionExpression="confirmation.steps_done = :step",
            ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
        )

    def mark_confirmation_missed(self, alert_id: str, *, at: str, step: int) -> Written[None] | NotWritten:
        """Nobody tapped YES after the last reminder: recorded once (the stream publishes it)."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression=(
                "SET confirmation.missed_at = :at, confirmation.steps_done = :done, "
                "confirmation.next_due_at = :null REMOVE confirm_shard, confirm_due_at, confirm_claim"
            ),
            ConditionExpression=(
                "confirmation.steps_done = :step AND attribute_not_exists(confirmation.confirmed_at) "
                "AND attribute_not_exists(confirmation.missed_at) AND attribute_not_exists(closed_at)"
            ),
            ExpressionAttributeValues=expression_values(at=at, step=step, done=step + 1, null=None),
        )

    def clear_confirmation_due(self, alert_id: str) -> Written[None] | NotWritten:
        """Drop the index key of a confirmation that no longer waits (confirmed, missed, closed)."""
        return self._update_if(
            alert_key(alert_id),
            UpdateExpression="REMOVE confirm_shard, confirm_due_at",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_exists(confirmation.confirmed_at) "
                "OR attribute_exists(confirmation.missed_at) OR attribute_exists(closed_at) "
                "OR attribute_not_exists(confirmation))"
            ),
        )
