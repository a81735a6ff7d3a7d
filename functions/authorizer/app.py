"""JWT Lambda authorizer: checks the token of every route but /mcp (McpFunction checks its own).

Settings and the verifier (``service``) are built once per container, as McpFunction builds its own (see
chatkit_backend.auth.verifier); keys are read on first use and cached. A rejected token is a deny
answer with the reason in the log's ``reason`` field; the token itself is never logged.

When Secrets Manager or the JWKS host is down, the caches keep verifying with the keys they
last read, for up to an hour, so valid tokens keep working. Only a container that has no keys
(or none younger than an hour) raises, so API Gateway answers 500 without caching a deny for a
good token.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.auth.authorizer import allow, bearer_token, deny, works_here
from chatkit_backend.auth.jwks import KeysUnavailable
from chatkit_backend.auth.tokens import TokenRejected
from chatkit_backend.auth.verifier import VerifierSettings, build_verifier
from chatkit_backend.errors import DependencyUnavailable
from chatkit_backend.observability.logs import logger

settings = VerifierSettings.from_env()
service = build_verifier(settings)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Every line of this request names Lambda's and API Gateway's request ids.
    logger.append_keys(
        function_request_id=getattr(context, "aws_request_id", None), correlation_id=_request_id(event)
    )
    try:
        verified = service.verify(bearer_token(event))
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
    if not works_here(event, verified):
        logger.info("token rejected", extra={"auth": "deny", "reason": "session_token_not_for_this_api"})
        return deny(event)
    return allow(event, verified)


def _request_id(event: Any) -> str | None:
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    return request_context.get("requestId") if isinstance(request_context, dict) else None
