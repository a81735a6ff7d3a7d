"""The frontend's auth server as a verifier sees it: a JWKS host on a loopback port, and keys.

``new_key`` makes a signing key (EdDSA, RS256 or ES256) at run time; ``serve_jwks`` serves the
public half of whatever keys it holds, and can be made to fail (503) while the tests or the bench
need the host down. Nothing here is a stored secret.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from local.standins.loopback import StandInHandler, serve


@dataclass
class SigningKey:
    algorithm: str
    kid: str
    private: Any

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.get_algorithm_by_name(self.algorithm).to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = "same") -> str:
        headers = {} if kid is None else {"kid": self.kid if kid == "same" else kid}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)


def new_key(algorithm: str = "EdDSA") -> SigningKey:
    if algorithm == "EdDSA":
        private: Any = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(algorithm)
    return SigningKey(algorithm, f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}", private)


@dataclass
class JwksServer:
    """A JWKS served on 127.0.0.1 with a free port; ``keys`` can change while it runs."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    url: str = ""
    # While set, every fetch gets 503: the frontend's auth server is down.
    failing: bool = False


@contextmanager
def serve_jwks(keys: list[dict[str, Any]]) -> Iterator[JwksServer]:
    state = JwksServer(keys=list(keys))

    class Handler(StandInHandler):
        def do_GET(self) -> None:
            state.requests += 1
            if state.failing:
                self.answer(503)
            else:
                self.answer_json(200, {"keys": state.keys})

    with serve(Handler) as url:
        state.url = f"{url}/api/auth/jwks"
        yield state
