"""The caller's identity, as the JWT authorizer put it in the request context, and where each
kind of token works.

Functions behind the authorizer take the user from ``requestContext.authorizer.lambda`` (HTTP
API) or ``requestContext.authorizer`` (REST API), never from a token. McpFunction is the one
exception: /mcp has no authorizer, and it checks its token with the same verifier
(``chatkit_backend.auth.verifier``, ``mcp.auth``).

Where a token works:
- a user token (the frontend's sign-in JWT): every route;
- a session token (the ``client_secret`` of ``POST /api/chatkit/session``): ``POST /chatkit`` only,
  until its ``exp``. The authorizer denies it on the HTTP API (every other route); the functions
  behind the HTTP API take user tokens only (``user_identity``), so one that slipped through
  still changes nothing; McpFunction refuses it (``mcp.auth``); ChatKitFunction takes both
  (``chat_identity``) and checks the expiry itself, because API Gateway may reuse the
  authorizer's Allow for ``ReauthorizeEvery`` seconds after the token expired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from chatkit_backend.errors import AuthenticationRequired, Forbidden

TokenUse = Literal["user", "session"]
USER_TOKEN_ONLY = (
    "This route takes the user's sign-in token; a chat session's client_secret works on POST /chatkit only."
)
SESSION_EXPIRED = (
    "The chat session expired: get a new client_secret from POST /api/chatkit/session and send it."
)


@dataclass(frozen=True)
class Identity:
    user_id: str
    token_use: TokenUse
    # A session token's exp (unix seconds); None for a user token.
    expires_at: int | None = None


def identity_from_event(event: dict[str, Any]) -> Identity:
    """The identity in an API Gateway event; ``AuthenticationRequired`` when there is none."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    context = authorizer.get("lambda", authorizer)
    if not isinstance(context, dict):
        raise AuthenticationRequired()
    user_id = context.get("user_id")
    token_use = context.get("token_use", "user")
    if not isinstance(user_id, str) or not user_id or token_use not in ("user", "session"):
        raise AuthenticationRequired()
    expires_at = None
    if token_use == "session":
        # REST API hands the authorizer's context values on as strings.
        raw = context.get("expires_at")
        if not (isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit())):
            raise AuthenticationRequired()
        expires_at = int(raw)
    return Identity(user_id=user_id, token_use=token_use, expires_at=expires_at)


def user_identity(event: dict[str, Any]) -> Identity:
    """The signed-in user of an HTTP API route: ``AuthenticationRequired`` without one,
    ``Forbidden`` for a session token."""
    identity = identity_from_event(event)
    if identity.token_use != "user":
        raise Forbidden(USER_TOKEN_ONLY)
    return identity


def chat_identity(event: dict[str, Any], now: float | None = None) -> Identity:
    """The caller of ``POST /chatkit``: a user token, or a session token before its ``exp``
    (``AuthenticationRequired`` after it, whatever the gateway cached)."""
    identity = identity_from_event(event)
    moment = time.time() if now is None else now
    if identity.expires_at is not None and moment >= identity.expires_at:
        raise AuthenticationRequired(SESSION_EXPIRED)
    return identity
