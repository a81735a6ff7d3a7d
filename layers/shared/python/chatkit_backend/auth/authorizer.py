"""API Gateway Lambda authorizer: read the bearer token, verify it, answer in the event's own format.

Two answer formats, chosen by the event:
- HTTP API payload 2.0 (``"version": "2.0"``): a simple response ``{"isAuthorized", "context"}``;
  API Gateway answers 403 to ``isAuthorized: false``.
- REST API TOKEN and REQUEST events (``methodArn``): an IAM policy with ``principalId`` and
  ``context``. The policy covers every method of the stage, because REST caches it per token
  and reuses it on the caller's next route.
The context is ``{"user_id": <sub>, "token_use": "user" | "session"}``, plus ``expires_at`` (the
token's exp, as a string: REST API passes context values on as strings) for a session token:
what ``identity.identity_from_event`` reads. A session token is denied on the HTTP API: it works on
``POST /chatkit`` (the REST API) only (``chatkit_backend.auth.identity``). The verifier is built in
``chatkit_backend.auth.verifier``, the same way McpFunction builds its own.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.auth.tokens import TokenRejected, VerifiedToken
from chatkit_backend.auth.verifier import bearer_token as parse_bearer


def bearer_token(event: dict[str, Any]) -> str:
    """The token of the event's ``Authorization: Bearer <token>``; ``TokenRejected`` when there is none."""
    if not isinstance(event, dict):
        raise TokenRejected("missing_header")
    if event.get("type") == "TOKEN":
        return parse_bearer(event.get("authorizationToken"))
    return parse_bearer(_header(event, "authorization"))


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
    return (
        isinstance(event, dict) and event.get("version") != "2.0" and isinstance(event.get("methodArn"), str)
    )


def works_here(event: Any, verified: VerifiedToken) -> bool:
    """Whether the token may be used on the API the event came from: a session token on the
    REST API (``POST /chatkit``) only."""
    return verified.token_use != "session" or wants_policy(event)


def allow(event: dict[str, Any], verified: VerifiedToken) -> dict[str, Any]:
    context = {"user_id": verified.user_id, "token_use": verified.token_use}
    if verified.token_use == "session" and verified.expires_at is not None:
        # ChatKitFunction refuses the token once this has passed, whatever API Gateway cached.
        context["expires_at"] = str(verified.expires_at)
    if wants_policy(event):
        return _policy(event, verified.user_id, "Allow", context)
    return {"isAuthorized": True, "context": context}


def deny(event: Any) -> dict[str, Any]:
    if wants_policy(event):
        return _policy(event, "anonymous", "Deny", None)
    return {"isAuthorized": False}


def _policy(
    event: dict[str, Any], principal: str, effect: str, context: dict[str, str] | None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": _stage_resource(event)}
            ],
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
