"""The caller's identity, and the one rule of where each kind of token works.

Kinds of token (``TokenUse``):
- ``user``: the frontend's sign-in JWT; every route;
- ``session``: the ``client_secret`` of ``POST /api/chatkit/session``; ``POST /chatkit`` only,
  until its ``exp`` (``works_on``);
- ``oauth``: an OAuth access token from the MCP authorization server; ``/mcp`` only (the verifier
  admits it only when it verifies for that resource).

``works_on`` is the rule, applied where a token arrives: the authorizer denies a session token on
the HTTP API (every route but ``POST /chatkit``); McpFunction's verifier refuses one by its
audience; and the functions behind the HTTP API take user tokens only (``user_identity``), so one
that slipped through still changes nothing. ChatKitFunction takes both (``chat_identity``) and
checks the expiry itself, because API Gateway may reuse the authorizer's Allow for
``ReauthorizeEvery`` seconds after the token expired.

Functions behind the authorizer take the user from ``requestContext.authorizer.lambda`` (HTTP
API) or ``requestContext.authorizer`` (REST API), never from a token; the tokens themselves are
read in this package only (``bearer_token``, ``tokens``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from chatkit_backend.errors import AuthenticationRequired, Forbidden
from chatkit_backend.limits import TOKEN_MAX_CHARS

TokenUse = Literal["user", "session", "oauth"]
USER_TOKEN_ONLY = (
    "This route takes the user's sign-in token; a chat session's client_secret works on POST /chatkit only."
)
SESSION_EXPIRED = (
    "The chat session expired: get a new client_secret from POST /api/chatkit/session and send it."
)
BEARER = "bearer"


def works_on(token_use: TokenUse, *, chat: bool) -> bool:
    """Whether a token of this kind may be used on the route: a session token on ``POST /chatkit``
    (``chat``) only; every other kind wherever its verifier admitted it."""
    return token_use != "session" or chat


class TokenRejected(Exception):
    """The token is not acceptable; ``reason`` is a short machine-readable code, never token material."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bearer_token(value: object) -> str:
    """The token of an ``Authorization: Bearer <token>`` value; ``TokenRejected`` when there is none.

    Reasons: ``missing_header`` (absent or blank), ``wrong_scheme`` (not Bearer),
    ``malformed_header`` (not exactly a scheme and one token), ``oversize``.
    """
    if value is None or value == "":
        raise TokenRejected("missing_header")
    if not isinstance(value, str):
        raise TokenRejected("malformed_header")
    if len(value) > TOKEN_MAX_CHARS + len("Bearer "):
        raise TokenRejected("oversize")
    parts = value.split()
    if not parts:
        raise TokenRejected("missing_header")
    if parts[0].lower() != BEARER:
        raise TokenRejected("wrong_scheme")
    if len(parts) != 2:
        raise TokenRejected("malformed_header")
    return parts[1]


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
    # The authorizer passes on user and session tokens only (OAuth tokens are /mcp's own).
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
    if not works_on(identity.token_use, chat=False):
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
