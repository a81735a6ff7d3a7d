"""The floor for verifying one token: a bare ``jwt.decode`` with the key already in hand.

No header parsing to pick a key, no audience routing, no key cache, no identity: what PyJWT
itself costs for the same checks (signature, exp, iss, aud). Any authorizer built on PyJWT pays
at least this; the gap to our rows is what the verifier adds.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519

ISSUER = AUDIENCE = "https://app.example.test"
SECRET = secrets.token_urlsafe(48)
PRIVATE = ed25519.Ed25519PrivateKey.generate()
PUBLIC = PRIVATE.public_key()
_now = int(time.time())
_claims = {"sub": "bench-user", "iss": ISSUER, "aud": AUDIENCE, "iat": _now, "exp": _now + 3600}
HS256_TOKEN = jwt.encode(_claims, SECRET, algorithm="HS256")
EDDSA_TOKEN = jwt.encode(_claims, PRIVATE, algorithm="EdDSA", headers={"kid": "bench"})


def decode_hs256(event: Any, context: Any) -> dict[str, Any]:
    claims = jwt.decode(
        HS256_TOKEN, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, leeway=30
    )
    return {"user_id": claims["sub"]}


def decode_eddsa(event: Any, context: Any) -> dict[str, Any]:
    claims = jwt.decode(
        EDDSA_TOKEN, PUBLIC, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER, leeway=30
    )
    return {"user_id": claims["sub"]}
