"""DynamoDB on-demand request units of a request, from the sizes of the items it touches.

moto answers ``ReturnConsumedCapacity`` with fixed numbers, so the cost table computes the units
as AWS documents them (Amazon DynamoDB Developer Guide, read 2026-12-06):

- item size ("DynamoDB item sizes and formats"): attribute names and values in UTF-8 bytes; a
  number is 1 byte per two significant digits plus 1; binary, its raw bytes; null and Boolean,
  1 byte; a List or Map 3 bytes plus 1 byte per element plus its elements;
- reads ("Read request units"): one unit per 4 KB read, rounded up, for a strongly consistent
  read, half of that for an eventually consistent one; a Query is charged for the sum of the
  items it evaluates (before any projection), rounded up once;
- writes ("Write request units"): one unit per 1 KB written, rounded up; an UpdateItem is charged
  for the larger of the item before and after; a transactional write costs two units per KB;
- local secondary indexes ("Provisioned throughput considerations for local secondary indexes"):
  writing an item that has the index's sort key also writes the index entry (its keys and the
  projected attributes: all of them here), one write of the entry's size; changing that key
  value costs two (the old entry removed, the new one put). Reading through the index costs what
  the entries read add up to.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

KB = 1024
READ_UNIT_BYTES = 4 * KB


def attribute_size(value: dict[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's JSON form (``{"S": "..."}``), name excluded."""
    [(kind, raw)] = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return _number_size(raw)
    if kind == "B":
        return len(raw) if isinstance(raw, (bytes, bytearray)) else len(raw.encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode()) for member in raw)
    if kind == "NS":
        return sum(_number_size(member) for member in raw)
    if kind == "BS":
        return sum(len(member) for member in raw)
    if kind == "L":
        return 3 + sum(1 + attribute_size(member) for member in raw)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + attribute_size(member) for name, member in raw.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """The size of an item: every attribute's name and value."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def read_units(sizes: list[int], consistent: bool) -> float:
    """Read request units of one read of items of ``sizes`` (a GetItem: one; a Query: all it evaluated)."""
    units = max(1, math.ceil(sum(sizes) / READ_UNIT_BYTES))
    return units if consistent else units / 2


def write_units(size: int, transactional: bool = False) -> int:
    """Write request units of writing one item (or index entry) of ``size`` bytes."""
    units = max(1, math.ceil(size / KB))
    return 2 * units if transactional else units


def index_writes(before: dict[str, Any] | None, after: dict[str, Any] | None, index_key: str) -> list[int]:
    """The sizes of the writes a local secondary index on ``index_key`` (projecting all
    attributes) adds to a write that turns ``before`` into ``after`` (None: no item)."""
    had = before is not None and index_key in before
    has = after is not None and index_key in after
    if not had and not has:
        return []
    if had and has and before[index_key] != after[index_key]:  # type: ignore[index]
        return [item_size(before), item_size(after)]  # type: ignore[arg-type]
    return [item_size(after if has else before)]  # type: ignore[arg-type]


def _number_size(raw: str) -> int:
    digits = format(abs(Decimal(raw)), "f").replace(".", "").strip("0")
    return math.ceil(max(1, len(digits)) / 2) + 1
