"""The gateway's Lambda authorizer: read the bearer token, verify it, answer in the event's own format.

``Authorizer.authorize`` is AuthorizerFunction's one call. It guards every route but ``/mcp``
(McpFunction checks its own tokens, with a verifier built the same way: ``auth.verifier``). A
rejected token is a deny answer with the reason in the log's ``reason`` field; the token itself
is never logged. When Secrets Manager or the JWKS host is down, the caches keep verifying with the
keys they last read, for up to an hour, so valid tokens keep working. Only a container that has
no keys (or none younger than an hour) raises, so API Gateway answers 500 without caching a deny
for a good token.

Two answer formats, chosen by the event:
- HTTP API payload 2.0 (``"version": "2.0"``): a simple response ``{"isAuthorized", "context"}``;
  API Gateway answers 403 to ``isAuthorized: false``.
- REST API TOKEN and REQUEST events (``methodArn``): an IAM policy with ``principalId`` and
  ``context``. The policy covers every method of the stage, because REST caches it per token
  and reuses it on the caller's next route.
The context is ``{"user_id": <sub>, "token_use": "user" | "session"}``, plus ``expires_at`` (the
token's exp, as a string: REST API passes context values on as strings) for a session token:
what ``identity.identity_from_event`` reads. A session token is denied on the HTTP API: it works
on ``POST /chatkit`` (the REST API) only (``identity.works_on``).
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.auth.identity import TokenRejected, bearer_token, works_on
from chatkit_backend.auth.jwks import KeysUnavailable
from chatkit_backend.auth.tokens import VerifiedToken
from chatkit_backend.auth.verifier import VerifierSettings, build_verifier
from chatkit_backend.errors import DependencyUnavailable
from chatkit_backend.observability.logs import REQUEST_ID_PATH, logger, value_at


class Authorizer:
    """AuthorizerFunction's service: its verifier, built once per container; keys are read on first use."""

    def __init__(self, settings: VerifierSettings) -> None:
        self.verifier = build_verifier(settings)

    def authorize(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Allow or deny the request of ``event``; raises only when the token could not be checked."""
        # Every line of this request names Lambda's and API Gateway's request ids.
        logger.append_keys(
            function_request_id=getattr(context, "aws_request_id", None),
            correlation_id=value_at(event, REQUEST_ID_PATH),
        )
        try:
            verified = self.verifier.verify(bearer_token(_authorization(event)))
        except TokenRejected as rejection:
            logger.info("token rejected", extra={"auth": "deny", "reason": rejection.reason})
            return deny(event)
        except (DependencyUnavailable, KeysUnavailable) as failure:
            logger.error(
                "token could not be checked: no usable keys while a dependency is down",
                extra={"auth": "error", "cause": getattr(failure, "cause", str(failure))},
            )
            raise
        except Exception:
            logger.exception("token could not be checked", extra={"auth": "error"})
            raise
        if not works_on(verified.token_use, chat=wants_policy(event)):
            logger.info("token rejected", extra={"auth": "deny", "reason": "session_token_not_for_this_api"})
            return deny(event)
        return allow(event, verified)


def _authorization(event: Any) -> Any:
    """The event's ``Authorization`` value: a TOKEN event's ``authorizationToken``, else the header."""
    if not isinstance(event, dict):
        return None
    if event.get("type") == "TOKEN":
        return event.get("authorizationToken")
    headers = event.get("headers")
    if isinstance(headers, dict):
        # Payload 2.0 lower-cases header names; REST REQUEST events keep the client's spelling.
        if "authorization" in headers:
            return headers["authorization"]
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == "authorization":
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
