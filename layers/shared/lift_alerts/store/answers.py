"""Answers on an alert (SPEC §6, §10): taps, YES taps and replies that are not taps, each
recorded with one conditional write on the alert item, once per WhatsApp message id."""

from __future__ import annotations

import json
from typing import Any, Literal

from botocore.exceptions import ClientError

from lift_alerts.store.alerts import LIST_CLOSED, AlertTable, alert_from_item, alert_key
from lift_alerts.store.codec import expression_values, numbers_as_decimals, shared_value
from lift_alerts.store.table import ConditionFailed, Written, conditional

# An alert item must stay under DynamoDB's 400 KB, and replies must never fill it: a tap that
# no longer fits would be lost. Past this many replies or bytes of them, a reply is logged and
# counted instead of kept (never retried for ever as if AWS had failed).
MAX_REPLIES_PER_ALERT = 100
REPLY_BYTES_PER_ALERT = 100_000

# Why a tap (or a YES) was not recorded: seen before, no such alert, its message is not the
# alert's, or (a YES only) the alert never asked for a confirmation (no entrapment).
TapRefusal = Literal["duplicate", "unknown_alert", "context_not_on_alert", "not_requested"]
TapResult = Written[None] | ConditionFailed[TapRefusal, None]
# Why a reply was not kept: seen before, no such alert, closed (matched by time only), or the
# alert holds as many replies as it may.
ReplyResult = Written[None] | ConditionFailed[Literal["duplicate", "unknown_alert", "closed", "full"], None]


class AnswerRepository(AlertTable):
    """Taps, YES taps and replies, recorded on their alert."""

    def record_tap(
        self, alert_id: str, response: dict[str, Any], *, require_message: str | None = None
    ) -> TapResult:
        """Append a tap to the alert; the first tap recorded becomes `first_response`.

        One conditional write does it all, so concurrent taps cannot both be first, the same
        tap (same WhatsApp message id) is recorded once, and escalation stops on the first tap.
        With `require_message`, the write only applies if that message belongs to the alert.
        No item is returned: parsing the whole alert (it grows with every tap) was most of a
        tap's CPU, and nothing used it. The table's stream publishes the tap.
        """
        return self._record_once_per_tap(
            alert_id,
            str(response["event_id"]),
            update=(
                "SET responses = list_append(responses, :one), "
                "first_response = if_not_exists(first_response, :response), taps.#tap = :true "
                "REMOVE due_shard, due_at, claim"
            ),
            # The response is stored twice (the list and first_response): serialised once.
            values=shared_value(response, ":one", ":response") | expression_values(true=True),
            require_message=require_message,
            requires_confirmation=False,
        )

    def record_confirmation(
        self, alert_id: str, yes: dict[str, Any], *, closed_at: str, require_message: str | None = None
    ) -> TapResult:
        """Record one YES with one conditional write.

        Every YES is kept in `confirmations` (once per tap id, through the alert's `taps`).
        The first YES from anyone sets `confirmation.confirmed_at`/`confirmed_by`, closes the
        alert (reason `provider_confirmed`, unless it was closed already) and removes the
        confirmation index key (reminders stop); later ones change nothing else. A YES never
        enters `responses`: it classifies nothing. `not_requested`: the alert never asked for
        a confirmation (no entrapment).
        """
        return self._record_once_per_tap(
            alert_id,
            str(yes["event_id"]),
            update=(
                "SET confirmations = list_append(if_not_exists(confirmations, :empty), :one), "
                "taps.#tap = :true, "
                "confirmation.confirmed_at = if_not_exists(confirmation.confirmed_at, :at), "
                "confirmation.confirmed_by = if_not_exists(confirmation.confirmed_by, :by), "
                "closed_at = if_not_exists(closed_at, :closed), "
                "close_reason = if_not_exists(close_reason, :reason), list_state = :listed "
                "REMOVE confirm_shard, confirm_due_at, confirm_claim"
            ),
            values=expression_values(
                empty=[],
                one=[yes],
                true=True,
                at=yes["responded_at"],
                by=yes["responder"],
                closed=closed_at,
                reason="provider_confirmed",
                listed=LIST_CLOSED,
            ),
            require_message=require_message,
            requires_confirmation=True,
        )

    def _record_once_per_tap(
        self,
        alert_id: str,
        tap_id: str,
        *,
        update: str,
        values: dict[str, Any],
        require_message: str | None,
        requires_confirmation: bool,
    ) -> TapResult:
        """A write made once per tap id (the alert's `taps`), on an alert that exists (and has
        asked for a confirmation), optionally only if `require_message` is one of its messages."""
        names = {"#tap": tap_id}
        condition = "attribute_exists(pk) AND attribute_not_exists(taps.#tap)"
        if requires_confirmation:
            condition += " AND attribute_exists(confirmation)"
        if require_message is not None:
            names["#msg"] = require_message
            condition += " AND attribute_exists(messages.#msg)"
        result = self._update_alert_if(
            alert_id, update, condition, names, values, ReturnValuesOnConditionCheckFailure="ALL_OLD"
        )
        if isinstance(result, Written):
            return Written(None)
        old = alert_from_item(dict(result.before)) if result.before else None
        if old is None:
            return ConditionFailed("unknown_alert")
        if tap_id in old.get("taps", {}):
            return ConditionFailed("duplicate")
        if requires_confirmation and "confirmation" not in old:
            return ConditionFailed("not_requested")
        return ConditionFailed("context_not_on_alert")

    def record_reply(self, alert_id: str, reply: dict[str, Any], *, require_open: bool) -> ReplyResult:
        """Append a reply to the alert's `messages_received`, once per reply message id.

        One conditional write: the id joins the string set `reply_ids` (a set, not a map, so
        an alert created before replies were kept takes one too: ADD and if_not_exists need
        no attribute to exist). Nothing else changes: a reply is never a tap, so
        `responses`, the escalation index and the claim stay as they are. `require_open`
        refuses a closed alert (a reply matched by time only, never by context).
        The table's stream publishes the reply.
        """
        size = len(json.dumps(reply, ensure_ascii=False, default=str).encode())
        condition = (
            "attribute_exists(pk) AND NOT contains(reply_ids, :id) AND "
            "(attribute_not_exists(messages_received) OR size(messages_received) < :max) AND "
            "(attribute_not_exists(reply_bytes) OR reply_bytes <= :room)"
        )
        if require_open:
            condition += " AND attribute_not_exists(closed_at)"
        try:
            result = conditional(
                lambda: self._db.update_item(
                    TableName=self.table_name,
                    Key=alert_key(alert_id),
                    UpdateExpression=(
                        "SET messages_received = list_append(if_not_exists(messages_received, :none), :one) "
                        "ADD reply_ids :ids, reply_bytes :size"
                    ),
                    ConditionExpression=condition,
                    ExpressionAttributeValues={
                        **expression_values(
                            none=[],
                            one=[numbers_as_decimals(reply)],
                            id=str(reply["event_id"]),
                            max=MAX_REPLIES_PER_ALERT,
                            size=size,
                            room=REPLY_BYTES_PER_ALERT - size,
                        ),
                        ":ids": {"SS": [str(reply["event_id"])]},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationException" and "size" in str(error.get("Message", "")):
                return ConditionFailed("full")  # the item would pass 400 KB
            raise
        if isinstance(result, Written):
            return Written(None)
        if not result.before:
            return ConditionFailed("unknown_alert")
        old = result.before  # read raw: parsing every stored reply is not needed to tell why
        if str(reply["event_id"]) in old.get("reply_ids", {}).get("SS", []):
            return ConditionFailed("duplicate")
        stored_bytes = int(old.get("reply_bytes", {}).get("N", "0"))
        if (
            len(old.get("messages_received", {}).get("L", [])) >= MAX_REPLIES_PER_ALERT
            or stored_bytes > REPLY_BYTES_PER_ALERT - size
        ):
            return ConditionFailed("full")
        return ConditionFailed("closed")
