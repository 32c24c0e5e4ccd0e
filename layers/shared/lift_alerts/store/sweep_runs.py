"""When the one-minute sweep last ran (SPEC §13, `GET /status`): one small item of the alerts
table, `sweep#last`, overwritten by each run with one unconditional PutItem (about one write
unit a minute). A sweep that stops running shows as an old time on the desk."""

from __future__ import annotations

from lift_alerts.store.table import Table

SWEEP_KEY = {"pk": {"S": "sweep#last"}}


class SweepRuns(Table):
    def record_run(self, ran_at: str) -> None:
        self._db.put_item(TableName=self.table_name, Item={**SWEEP_KEY, "ran_at": {"S": ran_at}})

    def last_run(self) -> str | None:
        item = self._get(SWEEP_KEY)
        return str(item["ran_at"]["S"]) if item and "ran_at" in item else None
