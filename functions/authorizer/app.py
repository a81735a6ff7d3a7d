"""Placeholder JWT authorizer: refuses every token until the authorizer issue lands."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"isAuthorized": False}
