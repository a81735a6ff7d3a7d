"""The tokens the authorizer must refuse, shared by the in-process tests and the `make dev` ones.

Each case builds an Authorization header value (None: no header) from a ``World``: the
frontend's keys (served as a JWKS), the template's signing secrets, and a way to rotate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from chatkit_backend.auth.tokens import ISSUER as SESSION_ISSUER
from chatkit_backend.auth.tokens import SESSION_AUDIENCE, mint_session_token

from local.standins.jwks import JwksServer, SigningKey, new_key
from tests.support.auth import (
    AUDIENCE,
    ISSUER,
    SecretsStack,
    authorizer,
    b64url,
    claims,
    hs256_raw,
    random_secret,
    unsigned,
)


def bearer(token: str) -> str:
    return f"Bearer {token}"


@dataclass
class World:
    stack: SecretsStack
    jwks: JwksServer
    keys: dict[str, SigningKey]
    monkeypatch: Any

    def handler(self, **env: str) -> Any:
        settings = {"JWT_JWKS_URL": self.jwks.url, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, **env}
        return authorizer(self.monkeypatch, self.stack.env(**settings))

    @property
    def session_key(self) -> str:
        return self.stack.value(self.stack.token_signing_secret_arn)

    @property
    def user_secret(self) -> str:
        return self.stack.value(self.stack.user_token_secret_arn)

    def rotate_session_key(self) -> None:
        """What a finished rotation leaves: a new AWSCURRENT, the old one as AWSPREVIOUS."""
        self.stack.client.put_secret_value(
            SecretId=self.stack.token_signing_secret_arn, SecretString=random_secret()
        )


def tamper_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body["sub"] = "mallory"
    return ".".join([header, b64url(json.dumps(body).encode()), signature])


def tamper_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(jwt.utils.base64url_decode(signature))
    raw[0] ^= 0x01
    return ".".join([header, payload, b64url(bytes(raw))])


def session_token(user_id: str, key: str, ttl: int = 300, *, now: float | None = None) -> str:
    return mint_session_token(user_id, key, ttl, now=now).token


def older_than_previous(world: World) -> str:
    token = session_token("carol", world.session_key)
    world.rotate_session_key()
    world.rotate_session_key()
    return bearer(token)


def oversize(world: World) -> str:
    return bearer(world.keys["EdDSA"].sign(claims(padding="x" * 8200)))


Case = Callable[[World], "str | None"]

REJECTIONS: list[tuple[str, Case, str]] = [
    ("missing header", lambda w: None, "missing_header"),
    ("empty header", lambda w: "", "missing_header"),
    ("scheme without token", lambda w: "Bearer", "malformed_header"),
    ("token with a space", lambda w: "Bearer abc def", "malformed_header"),
    ("basic scheme", lambda w: "Basic dXNlcjpwYXNz", "wrong_scheme"),
    ("valid jwt under another scheme", lambda w: "Token " + w.keys["EdDSA"].sign(claims()), "wrong_scheme"),
    ("bare jwt without scheme", lambda w: w.keys["EdDSA"].sign(claims()), "wrong_scheme"),
    ("not a jwt", lambda w: "Bearer not-a-jwt", "not_a_jwt"),
    ("two segments", lambda w: "Bearer abc.def", "not_a_jwt"),
    ("bad base64", lambda w: "Bearer @@@.###.$$$", "bad_encoding"),
    (
        "base64 of non-json",
        lambda w: f"Bearer {b64url(b'hello')}.{b64url(b'world')}.{b64url(b'sig')}",
        "bad_encoding",
    ),
    ("alg none", lambda w: bearer(unsigned(claims())), "algorithm_not_allowed"),
    (
        "alg HS512",
        lambda w: bearer(jwt.encode(claims(), w.user_secret, algorithm="HS512")),
        "algorithm_not_allowed",
    ),
    (
        "alg PS256 outside the allow-list",
        lambda w: bearer(
            jwt.encode(
                claims(), w.keys["RS256"].private, algorithm="PS256", headers={"kid": w.keys["RS256"].kid}
            )
        ),
        "algorithm_not_allowed",
    ),
    (
        "HS256 signed with the RSA public key as secret",
        lambda w: bearer(
            hs256_raw({"alg": "HS256", "kid": w.keys["RS256"].kid}, claims(), w.keys["RS256"].public_pem)
        ),
        "bad_signature",
    ),
    (
        "HS256 signed with the EC public key as secret",
        lambda w: bearer(
            hs256_raw({"alg": "HS256", "kid": w.keys["ES256"].kid}, claims(), w.keys["ES256"].public_pem)
        ),
        "bad_signature",
    ),
    (
        "RS256 header on an Ed25519 kid",
        lambda w: bearer(
            jwt.encode(
                claims(), w.keys["RS256"].private, algorithm="RS256", headers={"kid": w.keys["EdDSA"].kid}
            )
        ),
        "algorithm_mismatch",
    ),
    (
        "tampered payload (EdDSA)",
        lambda w: bearer(tamper_payload(w.keys["EdDSA"].sign(claims()))),
        "bad_signature",
    ),
    (
        "tampered signature (EdDSA)",
        lambda w: bearer(tamper_signature(w.keys["EdDSA"].sign(claims()))),
        "bad_signature",
    ),
    (
        "tampered payload (session)",
        lambda w: bearer(tamper_payload(session_token("u", w.session_key))),
        "bad_signature",
    ),
    (
        "tampered signature (session)",
        lambda w: bearer(tamper_signature(session_token("u", w.session_key))),
        "bad_signature",
    ),
    (
        "wrong key with a known kid",
        lambda w: bearer(
            jwt.encode(
                claims(), new_key("EdDSA").private, algorithm="EdDSA", headers={"kid": w.keys["EdDSA"].kid}
            )
        ),
        "bad_signature",
    ),
    (
        "wrong shared secret",
        lambda w: bearer(jwt.encode(claims(), random_secret(), algorithm="HS256")),
        "bad_signature",
    ),
    (
        "wrong key for a session token",
        lambda w: bearer(session_token("u", random_secret())),
        "bad_signature",
    ),
    ("unknown kid", lambda w: bearer(new_key("EdDSA").sign(claims())), "unknown_kid"),
    ("expired", lambda w: bearer(w.keys["EdDSA"].sign(claims(ttl=-120))), "expired"),
    (
        "expired session token",
        lambda w: bearer(session_token("u", w.session_key, 60, now=time.time() - 600)),
        "expired",
    ),
    (
        "nbf in the future",
        lambda w: bearer(w.keys["EdDSA"].sign(claims(nbf=int(time.time()) + 600))),
        "not_yet_valid",
    ),
    (
        "iat far in the future",
        lambda w: bearer(w.keys["ES256"].sign(claims(iat=int(time.time()) + 3600, ttl=7200))),
        "issued_in_future",
    ),
    ("missing exp", lambda w: bearer(w.keys["EdDSA"].sign(claims(exp=None))), "missing_exp"),
    ("missing sub", lambda w: bearer(w.keys["EdDSA"].sign(claims(sub=None))), "missing_sub"),
    ("empty sub", lambda w: bearer(w.keys["EdDSA"].sign(claims(sub=""))), "invalid_subject"),
    # The sub is the user's id, a key in every table and echoed in answers (the export): JSON's
    # "\ud800" (no UTF-8 text can hold it) and control characters can be neither.
    (
        "sub with a lone surrogate",
        lambda w: bearer(w.keys["EdDSA"].sign(claims(sub="alice\ud800"))),
        "invalid_subject",
    ),
    (
        "sub with a control character",
        lambda w: bearer(w.keys["RS256"].sign(claims(sub="alice\n"))),
        "invalid_subject",
    ),
    ("numeric sub", lambda w: bearer(w.keys["EdDSA"].sign(claims(sub=42))), "invalid_claims"),
    ("exp not a number", lambda w: bearer(w.keys["EdDSA"].sign(claims(exp="tomorrow"))), "malformed"),
    (
        "wrong iss",
        lambda w: bearer(w.keys["EdDSA"].sign(claims(issuer="https://evil.example"))),
        "wrong_issuer",
    ),
    ("missing iss", lambda w: bearer(w.keys["EdDSA"].sign(claims(issuer=None))), "missing_iss"),
    (
        "wrong aud",
        lambda w: bearer(w.keys["RS256"].sign(claims(audience="https://other.example"))),
        "wrong_audience",
    ),
    ("missing aud", lambda w: bearer(w.keys["RS256"].sign(claims(audience=None))), "missing_aud"),
    (
        "shared-secret user token with a wrong aud",
        lambda w: bearer(jwt.encode(claims(audience="x"), w.user_secret, algorithm="HS256")),
        "wrong_audience",
    ),
    (
        "session-key token carrying the user audience",
        lambda w: bearer(jwt.encode(claims(issuer=SESSION_ISSUER), w.session_key, algorithm="HS256")),
        "bad_signature",
    ),
    (
        "user-secret token carrying the session audience",
        lambda w: bearer(
            jwt.encode(
                claims(issuer=SESSION_ISSUER, audience=SESSION_AUDIENCE), w.user_secret, algorithm="HS256"
            )
        ),
        "bad_signature",
    ),
    (
        "JWKS user token carrying the session audience",
        lambda w: bearer(w.keys["EdDSA"].sign(claims(audience=SESSION_AUDIENCE))),
        "wrong_audience",
    ),
    (
        "session token with a foreign issuer",
        lambda w: bearer(
            jwt.encode(claims(issuer="someone", audience=SESSION_AUDIENCE), w.session_key, algorithm="HS256")
        ),
        "wrong_issuer",
    ),
    ("signed with a secret older than AWSPREVIOUS", older_than_previous, "bad_signature"),
    ("oversize token", oversize, "oversize"),
]
