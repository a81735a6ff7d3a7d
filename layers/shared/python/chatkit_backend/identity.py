"""The caller's identity, as the JWT authorizer put it in the request context.

Functions behind the authorizer take the user from ``requestContext.authorizer.lambda`` (HTTP
API) or ``requestContext.authorizer`` (REST API), never from a token. McpFunction is the one
exception: /mcp has no authorizer, and it checks its token with the same verifier
(``chatkit_backend.verifier``, ``mcp.auth``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chatkit_backend.errors import AuthenticationRequired

TokenUse = Literal["user", "mcp"]


@dataclass(frozen=True)
class Identity:
    user_id: str
    token_use: TokenUse


def identity_from_event(event: dict[str, Any]) -> Identity:
    """The identity in an API Gateway event; ``AuthenticationRequired`` when there is none."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    context = authorizer.get("lambda", authorizer)
    if not isinstance(context, dict):
        raise AuthenticationRequired()
    user_id = context.get("user_id")
    token_use = context.get("token_use", "user")
    if not isinstance(user_id, str) or not user_id or token_use not in ("user", "mcp"):
        raise AuthenticationRequired()
    return Identity(user_id=user_id, token_use=token_use)
