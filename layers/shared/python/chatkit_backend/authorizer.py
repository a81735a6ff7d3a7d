"""API Gateway Lambda authorizer: read the bearer token, verify it, answer in the event's own format.

Two answer formats, chosen by the event:
- HTTP API payload 2.0 (``"version": "2.0"``): a simple response ``{"isAuthorized", "context"}``;
  API Gateway answers 403 to ``isAuthorized: false``.
- REST API TOKEN and REQUEST events (``methodArn``): an IAM policy with ``principalId`` and
  ``context``. The policy covers every method of the stage, because REST caches it per token
  and reuses it on the caller's next route.
The context is ``{"user_id": <sub>, "token_use": "user" | "mcp"}``, what
``identity.identity_from_event`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatkit_backend.jwks import JwksCache, jwks_url_problem
from chatkit_backend.secrets import CURRENT, PREVIOUS, SecretCache
from chatkit_backend.settings import env_str
from chatkit_backend.tokens import MAX_TOKEN_CHARS, SigningKeys, TokenRejected, TokenVerifier, VerifiedToken

BEARER = "bearer"


@dataclass(frozen=True)
class AuthorizerSettings:
    token_signing_secret_arn: str
    user_token_secret_arn: str
    jwks_url: str
    issuer: str
    audience: str

    @classmethod
    def from_env(cls) -> AuthorizerSettings:
        return cls(
            token_signing_secret_arn=env_str("TOKEN_SIGNING_SECRET_ARN"),
            user_token_secret_arn=env_str("USER_TOKEN_SECRET_ARN"),
            jwks_url=env_str("JWT_JWKS_URL"),
            issuer=env_str("JWT_ISSUER"),
            audience=env_str("JWT_AUDIENCE"),
        )

    def jwks_problem(self) -> str | None:
        """Why asymmetric tokens cannot be accepted with these settings, or None when they can."""
        if not self.jwks_url:
            return "JWT_JWKS_URL is not set"
        if not self.issuer or not self.audience:
            return "JWT_ISSUER and JWT_AUDIENCE are required when JWT_JWKS_URL is set"
        return jwks_url_problem(self.jwks_url)


def build_verifier(settings: AuthorizerSettings, cache: SecretCache | None = None) -> TokenVerifier:
    """The container's verifier; nothing is fetched until the first token needs it."""
    cache = cache or SecretCache()
    return TokenVerifier(
        # MCP tokens survive one rotation: AWSPREVIOUS is still accepted.
        mcp_keys=SigningKeys(settings.token_signing_secret_arn, cache, (CURRENT, PREVIOUS))
        if settings.token_signing_secret_arn
        else None,
        # A replaced shared user secret stops working at once: only AWSCURRENT.
        user_keys=SigningKeys(settings.user_token_secret_arn, cache, (CURRENT,))
        if settings.user_token_secret_arn
        else None,
        jwks=JwksCache(settings.jwks_url) if settings.jwks_url else None,
        issuer=settings.issuer,
        audience=settings.audience,
        jwks_problem=settings.jwks_problem() if settings.jwks_url else None,
    )


def bearer_token(event: dict[str, Any]) -> str:
    """The token of the event's ``Authorization: Bearer <token>``; ``TokenRejected`` when there is none."""
    if not isinstance(event, dict):
        raise TokenRejected("missing_header")
    if event.get("type") == "TOKEN":
        value = event.get("authorizationToken")
    else:
        value = _header(event, "authorization")
    if value is None or value == "":
        raise TokenRejected("missing_header")
    if not isinstance(value, str):
        raise TokenRejected("malformed_header")
    if len(value) > MAX_TOKEN_CHARS + len("Bearer "):
        raise TokenRejected("oversize")
    parts = value.split()
    if not parts:
        raise TokenRejected("missing_header")
    if parts[0].lower() != BEARER:
        raise TokenRejected("wrong_scheme")
    if len(parts) != 2:
        raise TokenRejected("malformed_header")
    return parts[1]


def _header(event: dict[str, Any], name: str) -> Any:
    headers = event.get("headers")
    if isinstance(headers, dict):
        # Payload 2.0 lower-cases header names; REST REQUEST events keep the client's spelling.
        if name in headers:
            return headers[name]
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name:
                return value
    sources = event.get("identitySource")
    if isinstance(sources, list) and len(sources) == 1:
        return sources[0]
    return None


def wants_policy(event: Any) -> bool:
    """REST API events (TOKEN, REQUEST) carry ``methodArn`` and take an IAM policy; payload 2.0 does not."""
    return isinstance(event, dict) and event.get("version") != "2.0" and isinstance(event.get("methodArn"), str)


def allow(event: dict[str, Any], verified: VerifiedToken) -> dict[str, Any]:
    context = {"user_id": verified.user_id, "token_use": verified.token_use}
    if wants_policy(event):
        return _policy(event, verified.user_id, "Allow", context)
    return {"isAuthorized": True, "context": context}


def deny(event: Any) -> dict[str, Any]:
    if wants_policy(event):
        return _policy(event, "anonymous", "Deny", None)
    return {"isAuthorized": False}


def _policy(event: dict[str, Any], principal: str, effect: str, context: dict[str, str] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": _stage_resource(event)}],
        },
    }
    if context is not None:
        response["context"] = context
    return response


def _stage_resource(event: dict[str, Any]) -> str:
    """``arn:...:api-id/stage/*`` from ``methodArn`` (``arn:...:api-id/stage/VERB/path``)."""
    method_arn: str = event["methodArn"]
    if "/" not in method_arn:
        return method_arn
    api, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    return f"{api}/{stage}/*"
