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


def serialize(value: Any) -> Any:
    """One Python value in DynamoDB's typed form."""
    return _serializer.serialize(value)


def to_item(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in value.items()}


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
    return {f":{k}": _serializer.serialize(v) for k, v in named.items()}


def shared_value(value: Any, as_list: str, as_value: str) -> dict[str, Any]:
    """`value` as the one element of a list (`as_list`) and on its own (`as_value`)."""
    serialized = _serializer.serialize(value)
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
        values[placeholder] = _serializer.serialize(value)
        entry = f"{path}.{name}"
        sets.append(
            f"{entry} = if_not_exists({entry}, {placeholder})" if keep_first else f"{entry} = {placeholder}"
        )
