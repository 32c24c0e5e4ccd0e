"""DynamoDB's attribute values and expressions, for every repository of the alerts table.

`to_item`/`from_item` convert between Python values and DynamoDB's typed form; `values` names
expression values; `set_entries` writes entries of a map attribute. Nothing here talks to AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# DynamoDB numbers hold 38 significant digits: a whole number below this is written exactly
# (TypeSerializer's Decimal context would also accept it); any other goes to TypeSerializer,
# which refuses it with its own error.
_EXACT_INTEGERS = 10**38


def serialize(value: Any) -> Any:
    """One Python value in DynamoDB's typed form, exactly as boto3's TypeSerializer writes it.

    What this layer writes (text, whole numbers, booleans, None, and maps and lists of them)
    is written here; anything else (Decimal, sets, bytes, tuples, str subclasses, and the
    floats DynamoDB refuses) goes to TypeSerializer, which knows every rule and error.
    TypeSerializer's chain of isinstance checks and a Decimal per number cost a tap more CPU
    than the rest of its store code; tests/unit/test_codec.py compares the two value by value.
    """
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int and -_EXACT_INTEGERS < value < _EXACT_INTEGERS:
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if kind is dict:
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [serialize(v) for v in value]}
    return _serializer.serialize(value)


def to_item(value: dict[str, Any]) -> dict[str, Any]:
    return {k: serialize(v) for k, v in value.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: plain(_deserializer.deserialize(v)) for k, v in item.items()}


def plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: integers, except a reply's coordinates."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def expression_values(**named: Any) -> dict[str, Any]:
    """`:name` placeholders for an expression, each value in DynamoDB's typed form."""
    return {f":{k}": serialize(v) for k, v in named.items()}


def shared_value(value: Any, as_list: str, as_value: str) -> dict[str, Any]:
    """`value` as the one element of a list (`as_list`) and on its own (`as_value`)."""
    serialized = serialize(value)
    return {as_list: {"L": [serialized]}, as_value: serialized}


def numbers_as_decimals(value: Any) -> Any:
    """DynamoDB takes no floats (a reply's coordinates): Decimal of their shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: numbers_as_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_decimals(v) for v in value]
    return value


def set_entries(
    names: dict[str, str],
    values: dict[str, Any],
    sets: list[str],
    path: str,
    entries: Mapping[str, object],
    *,
    keep_first: bool = False,
) -> None:
    """Add `SET <path>.<key> = <value>` for each entry of a map attribute (placeholders named
    after the map, so several maps go in one expression). `keep_first`: an entry already
    there is kept."""
    tag = path.strip("#")[0]
    for index, (key, value) in enumerate(entries.items()):
        name, placeholder = f"#{tag}{index}", f":{tag}{index}"
        names[name] = key
        values[placeholder] = serialize(value)
        entry = f"{path}.{name}"
        sets.append(
            f"{entry} = if_not_exists({entry}, {placeholder})" if keep_first else f"{entry} = {placeholder}"
        )
