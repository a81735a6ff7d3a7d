"""Token checks: per-token verification (warm, in-process) by the authorizer and by McpFunction on
/mcp (which checks its own tokens, sparing an authorizer invocation), and AuthorizerFunction's
cold start.

Peers are honest floors, not competing products: ``jwt_floor`` is a bare ``jwt.decode`` with the
key already in hand (what any PyJWT authorizer pays at least). Ours picks the key (JWKS by kid,
AWSCURRENT/AWSPREVIOUS by HMAC), routes by audience and builds the identity on top of that.

AuthorizerFunction's EdDSA rows verify a token signed with a key generated here and served as a
JWKS on 127.0.0.1 by this (the bench) process, so the cold start includes the one JWKS fetch a
container makes over loopback (in AWS it crosses the network: add your JWKS host's latency).
"""

from __future__ import annotations

import atexit
import json
import time
from contextlib import ExitStack

from local.bench.runner import Case
from local.standins.jwks import new_key, serve_jwks
from local.template import ROOT

ISSUER = AUDIENCE = "https://app.example.test"
SHARED = ("layers/shared/python",)
EVENTS = ROOT / ".local" / "bench"


# The stand-ins the rows talk to, served by this (the bench) process while it runs.
SERVING = ExitStack()
atexit.register(SERVING.close)


def _authorizer_events() -> tuple[dict[str, str], str, str]:
    """JWKS settings, and event files: an EdDSA token it accepts, and a header that is no JWT."""
    key = new_key("EdDSA")
    jwks = SERVING.enter_context(serve_jwks([key.public_jwk]))
    env = {"JWT_JWKS_URL": jwks.url, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}
    now = int(time.time())
    token = key.sign({"sub": "bench-user", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600})
    template = json.loads((ROOT / "events" / "authorizer" / "valid.json").read_text())
    EVENTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, header in (
        ("authorizer_eddsa", f"Bearer {token}"),
        ("authorizer_not_a_jwt", "Bearer not-a-jwt"),
    ):
        event = json.loads(json.dumps(template).replace("Bearer ${TOKEN}", header))
        path = EVENTS / f"{name}.json"
        path.write_text(json.dumps(event))
        paths.append(str(path.relative_to(ROOT)))
    return env, paths[0], paths[1]


JWKS_ENV, EDDSA_EVENT, NOT_A_JWT_EVENT = _authorizer_events()
ANY_EVENT = "events/authorizer/missing_header.json"  # the in-process rows ignore their event

CASES = [
    Case(
        "auth: verify HS256, keys cached",
        "user token, shared secret (ours)",
        "local/bench/auth_micro.py:verify_hs256_user",
        ANY_EVENT,
        baseline=True,
        iterations=2000,
        sys_path=SHARED,
        note="TokenVerifier.verify; warm: the per-token cost the issue bounds at 150 µs",
    ),
    Case(
        "auth: verify HS256, keys cached",
        "session token, AWSCURRENT+PREVIOUS (ours)",
        "local/bench/auth_micro.py:verify_session",
        ANY_EVENT,
        iterations=2000,
        sys_path=SHARED,
    ),
    Case(
        "auth: verify HS256, keys cached",
        "user token on /mcp, McpFunction's check (ours)",
        "local/bench/auth_micro.py:mcp_check_hs256_user",
        ANY_EVENT,
        iterations=2000,
        sys_path=SHARED,
        note="in McpFunction: header parsing, verify for the resource, scope check; no authorizer call",
    ),
    Case(
        "auth: verify HS256, keys cached",
        "bare jwt.decode, key in hand (floor)",
        "local/bench/peers/jwt_floor.py:decode_hs256",
        ANY_EVENT,
        iterations=2000,
    ),
    Case(
        "auth: verify EdDSA, JWKS cached",
        "Better Auth token, EdDSA (ours)",
        "local/bench/auth_micro.py:verify_eddsa",
        ANY_EVENT,
        baseline=True,
        iterations=1000,
        sys_path=SHARED,
        note="the Ed25519 signature check is nearly all of it: see the floor",
    ),
    Case(
        "auth: verify EdDSA, JWKS cached",
        "OAuth access token on /mcp, McpFunction's check (ours)",
        "local/bench/auth_micro.py:mcp_check_oauth",
        ANY_EVENT,
        iterations=1000,
        sys_path=SHARED,
        note="at+jwt from the authorization server: its JWKS, iss, aud = the resource, scopes",
    ),
    Case(
        "auth: verify EdDSA, JWKS cached",
        "bare jwt.decode, key in hand (floor)",
        "local/bench/peers/jwt_floor.py:decode_eddsa",
        ANY_EVENT,
        iterations=1000,
    ),
    Case(
        "auth: AuthorizerFunction cold start",
        "AuthorizerFunction, EdDSA token (ours)",
        "AuthorizerFunction",
        EDDSA_EVENT,
        env=JWKS_ENV,
        baseline=True,
        iterations=500,
        note="cold = import (Powertools, boto3, PyJWT, cryptography) + one JWKS fetch + one verify",
    ),
    Case(
        "auth: AuthorizerFunction cold start",
        "AuthorizerFunction, not a JWT (ours)",
        "AuthorizerFunction",
        NOT_A_JWT_EVENT,
        env=JWKS_ENV,
        iterations=500,
        note="no key is read for a token that is not a JWT: the import alone",
    ),
    Case(
        "auth: AuthorizerFunction cold start",
        "bare jwt.decode EdDSA (floor)",
        "local/bench/peers/jwt_floor.py:decode_eddsa",
        ANY_EVENT,
        iterations=500,
        note="import of PyJWT + cryptography and one verify, nothing else",
    ),
]
