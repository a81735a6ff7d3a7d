"""Placeholder until its issue lands: answers 501 so the route exists, is routed and is authorized."""

from __future__ import annotations

from typing import Any

from chatkit_backend.http import json_response


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return json_response(501, {"detail": "Not implemented yet."})
