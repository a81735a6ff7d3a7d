"""Opaque pagination cursors that cannot reach another user's items.

A cursor carries only the sort-key part of DynamoDB's ``LastEvaluatedKey``; the partition key
is always the caller's ``user_id``, filled in on the way back. A forged cursor can therefore
only move within the caller's own partition.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chatkit_backend.errors import InvalidInput
from chatkit_backend.limits import CURSOR_MAX_CHARS


def encode_cursor(last_key: dict[str, Any] | None, *, partition_key: str = "user_id") -> str | None:
    """The cursor for a DynamoDB ``LastEvaluatedKey`` (low-level client format), or None at the end."""
    if not last_key:
        return None
    position = {name: value for name, value in last_key.items() if name != partition_key}
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, user_id: str, *, partition_key: str = "user_id"
) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` for ``cursor`` within ``user_id``'s partition; ``InvalidInput`` if forged."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str) or len(cursor) > CURSOR_MAX_CHARS:
        raise InvalidInput(
            "cursor is not valid: pass the next_cursor value from the previous page unchanged."
        )
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "cursor is not valid: pass the next_cursor value from the previous page unchanged."
        ) from None
    if not isinstance(position, dict) or not position or partition_key in position:
        raise InvalidInput(
            "cursor is not valid: pass the next_cursor value from the previous page unchanged."
        )
    for value in position.values():
        if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("S", "N")):
            raise InvalidInput(
                "cursor is not valid: pass the next_cursor value from the previous page unchanged."
            )
    return {partition_key: {"S": user_id}, **position}
