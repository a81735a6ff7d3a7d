"""The project's own tokens: MCP tokens minted for a ChatKit session, and their claims.

MCP tokens are HS256 JWTs signed with TokenSigningSecret (AWSCURRENT). Their audience is
distinct from any user token's, so neither kind is accepted where the other is expected.
Verification lives with the authorizer, the only code that reads tokens.
"""

from __future__ import annotations

import time
import uuid

import jwt

MCP_AUDIENCE = "chatkit-backend:mcp"
MCP_ISSUER = "chatkit-backend"
ALGORITHM = "HS256"


def mint_mcp_token(user_id: str, signing_key: str, ttl_seconds: int, *, now: float | None = None) -> str:
    """A token that lets the ChatKit workflow's MCP calls act for ``user_id`` for ``ttl_seconds``."""
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": user_id,
        "aud": MCP_AUDIENCE,
        "iss": MCP_ISSUER,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, signing_key, algorithm=ALGORITHM)
