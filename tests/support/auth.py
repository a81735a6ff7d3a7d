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
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from local.emulator import aws_calls

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://app.example.test"
AUDIENCE = "https://app.example.test"


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
    """The authorizer event of a REST API (REQUEST authorizer) request: ``POST /chatkit``'s, as the
    local gateway builds it."""
    from local.emulator.events import rest_authorizer_event

    method, path = route.split(" ", 1)
    headers = {} if authorization is None else {"Authorization": authorization}
    return rest_authorizer_event(method, path, "", headers, resource=path, stage="dev")


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
