"""When each person last wrote (WhatsApp's 24-hour window, SPEC §5): `contact#<phone digits>`
items, and `user#<business-scoped user id>` items holding the phone last seen with that id."""

from __future__ import annotations

from typing import Any

from lift_alerts.domain.sightings import Sighting
from lift_alerts.store.codec import expression_values, to_item
from lift_alerts.store.table import Table


def contact_key(phone: str) -> dict[str, Any]:
    return {"pk": {"S": f"contact#{phone}"}}


class ContactRepository(Table):
    """Contact windows and the phone behind a business-scoped user id."""

    def record_sighting(self, sighting: Sighting, *, expires_at: int, retention_expires_at: int) -> None:
        """Remember that a person wrote at `sighting.at` (only ever moves forward).

        Keyed by phone digits; a business-scoped user id seen with a phone is remembered so a
        later message that carries only the user id counts for that phone.
        """
        phone = sighting.wa_id
        if phone and sighting.user_id:
            self._db.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {"pk": f"user#{sighting.user_id}", "phone": phone, "expires_at": retention_expires_at}
                ),
            )
        elif not phone and sighting.user_id:
            phone = self.phone_for_user(sighting.user_id)
        if not phone:
            return
        # Not written: a later message of theirs is already recorded.
        self._update_if(
            contact_key(phone),
            UpdateExpression="SET last_inbound = :at, expires_at = :exp",
            ConditionExpression="attribute_not_exists(last_inbound) OR last_inbound < :at",
            ExpressionAttributeValues=expression_values(at=sighting.at, exp=expires_at),
        )

    def last_inbound(self, phones: list[str]) -> dict[str, int]:
        """When each person last wrote (Unix seconds); people never seen are absent."""
        items = self._batch_get([contact_key(p) for p in dict.fromkeys(phones)], "pk, last_inbound")
        return {
            str(item["pk"]["S"]).removeprefix("contact#"): int(item["last_inbound"]["N"])
            for item in items
            if "last_inbound" in item
        }

    def phone_for_user(self, user_id: str) -> str | None:
        """The phone last seen with a business-scoped user id (see `record_sighting`)."""
        item = self._db.get_item(TableName=self.table_name, Key={"pk": {"S": f"user#{user_id}"}}).get("Item")
        return str(item["phone"]["S"]) if item and "phone" in item else None
