"""JWT Lambda authorizer: checks the token of every route but /mcp (McpFunction checks its own).

The settings and the authorizer (``service``, with its verifier) are built once per container;
keys are read on first use and cached. What a request gets: ``chatkit_backend.auth.authorizer``.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.auth.authorizer import Authorizer
from chatkit_backend.auth.verifier import VerifierSettings

settings = VerifierSettings.from_env()
service = Authorizer(settings)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return service.authorize(event, context)
