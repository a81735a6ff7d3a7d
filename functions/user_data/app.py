"""GET /api/me/export and DELETE /api/me: the signed-in user's data, taken out or erased.

Only user tokens: an MCP token (handed to the ChatKit workflow for /mcp) may neither read nor
erase an account. The work is ``chatkit_backend.user_data``'s; it pages through the user's data
within this function's time and says what was left.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.errors import DependencyUnavailable, DomainError, Forbidden
from chatkit_backend.http import error_response, json_response
from chatkit_backend.identity import identity_from_event
from chatkit_backend.metrics import count
from chatkit_backend.observability import REQUEST_ID_PATH, log_dependency_failure, logger
from chatkit_backend.user_data import Budget, UserData, UserDataSettings

SERVICE = UserData(UserDataSettings.from_env())


@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        identity = identity_from_event(event)
        if identity.token_use != "user":
            raise Forbidden("This route needs the user's sign-in token; MCP tokens only work on /mcp.")
        budget = Budget.of(context)
        if event.get("routeKey") == "DELETE /api/me":
            erasure = SERVICE.erase(identity.user_id, budget)
            logger.info("user data erased", extra={"complete": erasure.complete, "removed": erasure.removed})
            count("Erasures", complete=str(erasure.complete).lower())
            return json_response(200, erasure.to_dict())
        document = SERVICE.export(identity.user_id, budget)
        logger.info("user data exported", extra={"complete": document["complete"]})
        return json_response(200, document, {"cache-control": "no-store"})
    except DomainError as error:
        if isinstance(error, DependencyUnavailable):
            log_dependency_failure(error)
        return error_response(error)
