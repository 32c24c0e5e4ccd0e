"""The desk's list of alerts (SPEC §13), from the sparse index `AlertListIndex`, never a Scan.

Every alert item carries `list_state` ("open" from its creation, "closed" from the write that
closes it) and its `created_epoch`: the index's partition and sort key, newest first with
`ScanIndexForward=False`. The desk's main query (open alerts) reads the "open" partition only,
so it costs the same with ten closed alerts or ten thousand. `state=all` reads both partitions
and merges them; `state=closed` the closed one; a state within open alerts (awaiting,
answered, unanswered), `site` and `lift_id` are filters on attributes the index projects
(`site`, `lift_id`, `first_response`, `unanswered_at`: set once each, so the index is
rewritten only when an alert is created, first answered, marked unanswered or closed).

A page is resumed from a position per partition (the index key of the last alert it showed,
or where the partition's reading stopped): `ListPosition`, or DONE once a partition is read.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lift_alerts.store.codec import expression_values
from lift_alerts.store.table import Table

LIST_INDEX = "AlertListIndex"
# Where a partition's reading is: the index key to start after, None (from the newest) or DONE.
ListPosition = dict[str, Any]
DONE = "done"
Start = ListPosition | str | None
# A state within open alerts, as a filter on what the index projects.
_STATE_FILTERS = {
    "awaiting_response": "attribute_not_exists(first_response) AND attribute_not_exists(unanswered_at)",
    "answered": "attribute_exists(first_response)",
    "unanswered": "attribute_exists(unanswered_at) AND attribute_not_exists(first_response)",
}
# One page reads at most this many index items per partition (a narrow filter over many
# closed alerts answers a short page with `next` rather than read on).
READ_BUDGET = 1000


@dataclass(frozen=True)
class ListScope:
    """Which alerts a list shows: partitions (open, closed), the state within open alerts, and
    the exact site, lift and earliest creation time (epoch seconds)."""

    partitions: tuple[str, ...]
    state: str | None = None
    site: str | None = None
    lift_id: str | None = None
    since: int | None = None

    @property
    def filtered(self) -> bool:
        return self.state in _STATE_FILTERS or self.site is not None or self.lift_id is not None


@dataclass(frozen=True)
class _Listed:
    alert_id: str
    created_epoch: int
    position: ListPosition


@dataclass
class _Reading:
    """What one partition gave: its alerts in index order, and where its reading stopped."""

    partition: str
    listed: list[_Listed]
    stopped_at: ListPosition | None  # None: read to its end


@dataclass(frozen=True)
class ListPage:
    alert_ids: list[str]
    # Per partition: where the next page starts (DONE when nothing is left).
    next_starts: dict[str, Start]


class AlertListing(Table):
    """Pages of alert ids from AlertListIndex."""

    def page(self, scope: ListScope, starts: Mapping[str, Start], *, limit: int) -> ListPage:
        """Up to `limit` alert ids, newest first, after `starts` (absent partition: from the top)."""
        readings = [
            self._read(scope, partition, starts.get(partition), limit)
            for partition in scope.partitions
            if starts.get(partition) != DONE
        ]
        # No alert older than where an unfinished reading stopped can be placed yet: the
        # partition may still hold newer ones.
        frontier = max(
            (int(r.stopped_at["created_epoch"]) for r in readings if r.stopped_at is not None), default=None
        )
        taken: dict[str, list[_Listed]] = {r.partition: [] for r in readings}
        merged = heapq.merge(*(_tagged(r) for r in readings), key=lambda pair: -pair[1].created_epoch)
        for partition, listed in merged:
            if sum(map(len, taken.values())) >= limit or (
                frontier is not None and listed.created_epoch < frontier
            ):
                break
            taken[partition].append(listed)
        next_starts: dict[str, Start] = dict.fromkeys(scope.partitions, DONE)
        for reading in readings:
            mine = taken[reading.partition]
            if len(mine) < len(reading.listed):
                next_starts[reading.partition] = mine[-1].position if mine else starts.get(reading.partition)
            elif reading.stopped_at is not None:
                next_starts[reading.partition] = reading.stopped_at
        ordered = sorted((item for items in taken.values() for item in items), key=lambda i: -i.created_epoch)
        return ListPage([item.alert_id for item in ordered], next_starts)

    def _read(self, scope: ListScope, partition: str, start: Start, limit: int) -> _Reading:
        """Up to `limit` matching alerts of one partition after `start`, within READ_BUDGET."""
        query = self._query(scope, partition)
        if isinstance(start, dict):
            query["ExclusiveStartKey"] = _index_key(start)
        listed: list[_Listed] = []
        evaluated = 0
        # A filter drops what it reads: read a few more per call than the page still needs
        # (what a page does not show is read again by the next, from the last one it showed).
        least = 25 if scope.filtered else 1
        while True:
            query["Limit"] = max(limit - len(listed), least)
            response = self._db.query(**query)
            evaluated += int(response.get("ScannedCount", 0))
            listed += [_listed(item) for item in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            if last is None:
                return _Reading(partition, listed, None)
            if len(listed) >= limit or evaluated >= READ_BUDGET:
                return _Reading(partition, listed, _position(last))
            query["ExclusiveStartKey"] = last

    def _query(self, scope: ListScope, partition: str) -> dict[str, Any]:
        condition = "list_state = :part"
        values: dict[str, Any] = {"part": partition}
        if scope.since is not None:
            condition += " AND created_epoch >= :since"
            values["since"] = scope.since
        filters = []
        if scope.state in _STATE_FILTERS:
            filters.append(_STATE_FILTERS[scope.state])
        if scope.site is not None:
            filters.append("site = :site")
            values["site"] = scope.site
        if scope.lift_id is not None:
            filters.append("lift_id = :lift")
            values["lift"] = scope.lift_id
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": expression_values(**values),
            "ScanIndexForward": False,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(f"({f})" for f in filters)
        return query


def _tagged(reading: _Reading) -> Iterator[tuple[str, _Listed]]:
    return ((reading.partition, listed) for listed in reading.listed)


def _listed(item: Mapping[str, Any]) -> _Listed:
    position = _position(item)
    return _Listed(str(position["pk"]).removeprefix("alert#"), int(position["created_epoch"]), position)


def _position(key: Mapping[str, Any]) -> ListPosition:
    """An index key (from an item or a LastEvaluatedKey) as plain values."""
    return {
        "pk": str(key["pk"]["S"]),
        "list_state": str(key["list_state"]["S"]),
        "created_epoch": int(key["created_epoch"]["N"]),
    }


def _index_key(position: ListPosition) -> dict[str, Any]:
    return {
        "pk": {"S": str(position["pk"])},
        "list_state": {"S": str(position["list_state"])},
        "created_epoch": {"N": str(int(position["created_epoch"]))},
    }
