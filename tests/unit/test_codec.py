"""DynamoDB's typed form of what the layer writes (store/codec.py): the fast path writes exactly
what boto3's TypeSerializer writes, and leaves every other value, and every refusal, to it."""

from __future__ import annotations

import random
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from lift_alerts.store.codec import expression_values, serialize, shared_value, to_item

REFERENCE = TypeSerializer()


class Kind(StrEnum):
    TAP = "tap"


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    leaves: list[Any] = [
        "",
        "wamid.HBgL27824537125",
        "é\u0661\n",
        True,
        False,
        None,
        0,
        -1,
        rng.randint(-(10**40), 10**40),
        10**38 - 1,
        -(10**38) + 1,
        Decimal("1.25"),
        Kind.TAP,
        b"\x00\x01",
        {"a", "b"},
        {1, 2},
    ]
    if depth < 3 and rng.random() < 0.4:
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}
    if depth < 3 and rng.random() < 0.3:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return rng.choice(leaves)


def _both(value: Any) -> tuple[Any, Any]:
    """(fast path, TypeSerializer): each the typed form or the type of what it raised."""
    answers = []
    for write in (serialize, REFERENCE.serialize):
        try:
            answers.append(write(value))
        except Exception as exc:  # the kind of refusal is what is compared
            answers.append(type(exc))
    return answers[0], answers[1]


def test_every_value_is_written_as_type_serializer_writes_it() -> None:
    rng = random.Random(20261208)
    for _ in range(5_000):
        value = _random_value(rng)
        fast, reference = _both(value)
        assert fast == reference, value


def test_a_tap_response_is_written_as_type_serializer_writes_it() -> None:
    response = {
        "event_id": "wamid.TAP0001",
        "choice": "entrapment",
        "button_title": "Entrapment",
        "responder": {"wa_id": "27824537125", "name": "Thandi", "user_id": None},
        "responded_at": "2026-12-08T01:30:22Z",
        "matched_by": "context",
        "original_message_id": None,
        "attempt": 2,
        "late": False,
        "rounds": [1, 2, {"at": 1796693422}],
    }
    assert shared_value(response, ":one", ":response") == {
        ":one": {"L": [REFERENCE.serialize(response)]},
        ":response": REFERENCE.serialize(response),
    }
    assert to_item(response) == {k: REFERENCE.serialize(v) for k, v in response.items()}
    assert expression_values(now=5, who="x") == {":now": {"N": "5"}, ":who": {"S": "x"}}


@pytest.mark.parametrize(
    "refused",
    [1.5, float("nan"), 10**38, -(10**38), {"nested": [0.1]}, [10**40]],
    ids=["float", "nan", "39 digits", "-39 digits", "float in a map", "huge in a list"],
)
def test_what_dynamodb_refuses_is_refused_as_type_serializer_refuses_it(refused: Any) -> None:
    fast, reference = _both(refused)
    assert isinstance(reference, type)  # TypeSerializer raised
    assert issubclass(reference, TypeError | ArithmeticError)
    assert fast is reference
