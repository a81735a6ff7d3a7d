"""Per-token verification cost of the verifier, in-process, with keys already cached.

Keys and tokens are made at import. The verifier is the real ``TokenVerifier``; only its key
sources are in memory (a dict instead of Secrets Manager, functions instead of the JWKS and
metadata URLs), so what is measured is the warm path: no network, as in a warm Lambda container.

- as bench rows: ``verify_hs256_user``, ``verify_session``, ``verify_eddsa`` are the authorizer's
  check (the event is ignored); ``mcp_check_hs256_user`` and ``mcp_check_oauth`` are McpFunction's
  check on /mcp (``ResourceServer``: header parsing, the same verify for the resource, the scope
  check), next to the floor in local/bench/peers/jwt_floor.py;
- alone: ``python -m local.bench.auth_micro [N]`` prints µs per verification for each kind.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from typing import Any

import jwt
from chatkit_backend.auth.authorization_server import AuthorizationServer
from chatkit_backend.auth.jwks import JwksCache
from chatkit_backend.auth.resource_server import McpAuthSettings, ResourceServer
from chatkit_backend.auth.tokens import SigningKeys, TokenVerifier, mint_session_token
from chatkit_backend.aws.secrets import CURRENT, PREVIOUS, SecretVersion
from cryptography.hazmat.primitives.asymmetric import ed25519

ISSUER = AUDIENCE = "https://app.example.test"
OAUTH_ISSUER = "https://app.example.test/api/auth"
RESOURCE_DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
RESOURCE = f"https://{RESOURCE_DOMAIN}/mcp"


class MemorySecrets:
    """``SecretCache.get`` over a dict: what a warm container's cache answers."""

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self._values = {
            key: SecretVersion(version_id=f"v-{key[1]}", value=value) for key, value in values.items()
        }

    def get(self, secret_id: str, stage: str = CURRENT, *, force: bool = False) -> SecretVersion | None:
        return self._values.get((secret_id, stage))


USER_SECRET = secrets.token_urlsafe(48)
SESSION_CURRENT = secrets.token_urlsafe(48)
SESSION_PREVIOUS = secrets.token_urlsafe(48)
EDDSA_KEY = ed25519.Ed25519PrivateKey.generate()
EDDSA_JWK = {
    **json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(EDDSA_KEY.public_key())),
    "kid": "bench",
    "use": "sig",
    "alg": "EdDSA",
}

OAUTH_KEY = ed25519.Ed25519PrivateKey.generate()
OAUTH_JWK = {
    **json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(OAUTH_KEY.public_key())),
    "kid": "as",
    "use": "sig",
    "alg": "EdDSA",
}

_cache: Any = MemorySecrets(
    {
        ("user", CURRENT): USER_SECRET,
        ("session", CURRENT): SESSION_CURRENT,
        ("session", PREVIOUS): SESSION_PREVIOUS,
    }
)
VERIFIER = TokenVerifier(
    session_keys=SigningKeys("session", _cache, (CURRENT, PREVIOUS)),
    user_keys=SigningKeys("user", _cache, (CURRENT,)),
    jwks=JwksCache("https://app.example.test/api/auth/jwks", fetch=lambda url: {"keys": [EDDSA_JWK]}),
    issuer=ISSUER,
    audience=AUDIENCE,
    authorization_server=AuthorizationServer(
        OAUTH_ISSUER,
        fetch=lambda url: {"issuer": OAUTH_ISSUER, "jwks_uri": f"{OAUTH_ISSUER}/oauth-jwks"},
        jwks=lambda url: JwksCache(url, fetch=lambda _: {"keys": [OAUTH_JWK]}),
    ),
)
RESOURCE_SERVER = ResourceServer(McpAuthSettings("", OAUTH_ISSUER, "tasks:read", "tasks:write", ""), VERIFIER)


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "bench-user", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}


TOKENS = {
    "hs256_user": jwt.encode(_claims(), USER_SECRET, algorithm="HS256"),
    "session": mint_session_token("bench-user", SESSION_CURRENT, 3600).token,
    # The worst session case short of a refresh: signed with AWSPREVIOUS, so AWSCURRENT misses first.
    "session_previous_key": mint_session_token("bench-user", SESSION_PREVIOUS, 3600).token,
    "eddsa": jwt.encode(_claims(), EDDSA_KEY, algorithm="EdDSA", headers={"kid": "bench"}),
    # What Better Auth's MCP plugin issues: at+jwt, EdDSA, bound to the resource, with scopes.
    "oauth_access_token": jwt.encode(
        {
            **_claims(),
            "iss": OAUTH_ISSUER,
            "aud": RESOURCE,
            "scope": "tasks:read tasks:write",
            "client_id": "bench",
        },
        OAUTH_KEY,
        algorithm="EdDSA",
        headers={"kid": "as", "typ": "at+jwt"},
    ),
}


def verify_hs256_user(event: Any, context: Any) -> dict[str, Any]:
    return {"user_id": VERIFIER.verify(TOKENS["hs256_user"]).user_id}


def verify_session(event: Any, context: Any) -> dict[str, Any]:
    return {"user_id": VERIFIER.verify(TOKENS["session"]).user_id}


def verify_eddsa(event: Any, context: Any) -> dict[str, Any]:
    return {"user_id": VERIFIER.verify(TOKENS["eddsa"]).user_id}


def _mcp_check(token: str) -> str:
    """What McpFunction does with a request's Authorization header before the MCP call runs."""
    credentials = RESOURCE_SERVER.request(
        {"authorization": f"Bearer {token}"}, RESOURCE_SERVER.endpoint(RESOURCE_DOMAIN)
    )
    user_id = credentials.user()
    credentials.allow(writes=True)
    return user_id


def mcp_check_hs256_user(event: Any, context: Any) -> dict[str, Any]:
    return {"user_id": _mcp_check(TOKENS["hs256_user"])}


def mcp_check_oauth(event: Any, context: Any) -> dict[str, Any]:
    return {"user_id": _mcp_check(TOKENS["oauth_access_token"])}


def micro_benchmark(iterations: int = 5000) -> dict[str, float]:
    """Mean µs per check for each kind of token, after one warm-up call each: the authorizer's
    ``TokenVerifier.verify``, and McpFunction's whole check for the two tokens /mcp sees most."""
    checks = {
        kind: (lambda t=token: VERIFIER.verify(t))
        for kind, token in TOKENS.items()
        if kind != "oauth_access_token"
    }
    checks["mcp: hs256_user"] = lambda: _mcp_check(TOKENS["hs256_user"])
    checks["mcp: oauth_access_token"] = lambda: _mcp_check(TOKENS["oauth_access_token"])
    results = {}
    for kind, check in checks.items():
        check()
        started = time.perf_counter()
        for _ in range(iterations):
            check()
        results[kind] = (time.perf_counter() - started) * 1e6 / iterations
    return results


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    for kind, micros in micro_benchmark(count).items():
        print(f"{kind:24} {micros:8.1f} µs/check")
