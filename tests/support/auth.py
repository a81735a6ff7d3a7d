"""Test-time keys, tokens and a local JWKS server for the authorizer and rotation tests.

Every key is generated when the tests run; nothing here is a stored secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import secrets
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from local import aws_calls
from tests.support.loopback import serve

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://app.example.test"
AUDIENCE = "https://app.example.test"


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


def claims(
    sub: str = "user-1",
    *,
    ttl: int = 900,
    issuer: str | None = ISSUER,
    audience: Any = AUDIENCE,
    **extra: Any,
) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl}
    if issuer is not None:
        body["iss"] = issuer
    if audience is not None:
        body["aud"] = audience
    body.update(extra)
    return {name: value for name, value in body.items() if value is not None}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def hs256_raw(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """An HS256 token built by hand, for keys pyjwt refuses to sign with (e.g. a PEM public key)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def unsigned(payload: dict[str, Any]) -> str:
    return f"{b64url(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(payload).encode())}."


def random_secret() -> str:
    return secrets.token_urlsafe(48)


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

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            if state.failing:
                self.send_response(503)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serve(Handler) as url:
        state.url = f"{url}/api/auth/jwks"
        yield state


def load_function(folder: str) -> ModuleType:
    """A fresh copy of ``functions/<folder>/app.py``, as a new Lambda container would import it;
    its init and its ``handler`` make their AWS calls as the function (the least-privilege check)."""
    logical_id = _logical_ids()[folder]
    name = f"_function_{folder}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / folder / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with aws_calls.running(logical_id):
        spec.loader.exec_module(module)
    handler = module.handler

    def as_function(event: Any, context: Any) -> Any:
        with aws_calls.running(logical_id):
            return handler(event, context)

    module.handler = as_function
    return module


@cache
def _logical_ids() -> dict[str, str]:
    """Each function folder's logical id in template.yaml."""
    from local.template import Template

    return {spec.folder: logical_id for logical_id, spec in Template.load().functions().items()}


def lambda_context(function_name: str) -> Any:
    """The parts of Lambda's context object Powertools reads."""
    from types import SimpleNamespace

    return SimpleNamespace(
        function_name=function_name,
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        aws_request_id=str(uuid.uuid4()),
    )


def rest_api_event(authorization: str | None, *, route: str = "POST /chatkit") -> dict[str, Any]:
    """The authorizer event of a REST API (REQUEST authorizer) request: ``POST /chatkit``'s."""
    method, path = route.split(" ", 1)
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:abc123/dev/{method}{path}",
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {} if authorization is None else {"Authorization": authorization},
        "requestContext": {"requestId": "req-rest", "resourcePath": path, "stage": "dev"},
    }


def http_api_event(authorization: str | None, *, route_key: str = "POST /mcp") -> dict[str, Any]:
    """The authorizer event of an HTTP API (payload 2.0) request."""
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    method, path = route_key.split(" ", 1)
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/{method}{path}",
        "identitySource": [authorization] if authorization is not None else [],
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": route_key,
            "stage": "$default",
        },
    }


@dataclass
class SecretsStack:
    """The template's two signing secrets in moto (the ``aws`` fixture), and the authorizer's environment."""

    aws: Any

    @property
    def client(self) -> Any:
        return self.aws.client("secretsmanager")

    @property
    def token_signing_secret_arn(self) -> str:
        return self.aws.physical_id("TokenSigningSecret")

    @property
    def user_token_secret_arn(self) -> str:
        return self.aws.physical_id("UserTokenSecret")

    def value(self, secret_arn: str, stage: str = "AWSCURRENT") -> str:
        return self.client.get_secret_value(SecretId=secret_arn, VersionStage=stage)["SecretString"]

    def env(self, **overrides: str) -> dict[str, str]:
        """AuthorizerFunction's template environment; JWT_* overrides set the template parameters."""
        return self.aws.function_env(
            "AuthorizerFunction", {name: value for name, value in overrides.items() if value}
        )


def signing_secrets(aws: Any) -> SecretsStack:
    from chatkit_backend.aws.clients import client

    client.cache_clear()
    return SecretsStack(aws)


def authorizer(monkeypatch: Any, env: dict[str, str]) -> ModuleType:
    """A fresh AuthorizerFunction container with ``env``."""
    for name in ("JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_function("authorizer")


class Logs:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@contextmanager
def captured_logs() -> Iterator[Logs]:
    """What the shared Powertools logger writes, formatted as in CloudWatch (one JSON object a line)."""
    import io
    import logging

    from chatkit_backend.observability.logs import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    try:
        yield Logs(stream)
    finally:
        logger._logger.removeHandler(handler)
