"""GET /api/me/export and DELETE /api/me: the signed-in user's data, taken out or erased.

Only user tokens (``identity.user_identity``): a chat session's token may neither read nor erase
an account. The work is ``chatkit_backend.users.data``'s; it pages through the user's data
within this function's time and says what was left.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.auth.identity import user_identity
from chatkit_backend.errors import DependencyUnavailable, DomainError
from chatkit_backend.http.responses import error_answer, json_response
from chatkit_backend.observability.logs import REQUEST_ID_PATH, log_dependency_failure, logger
from chatkit_backend.observability.metrics import count
from chatkit_backend.users.data import Budget, UserData, UserDataSettings

settings = UserDataSettings.from_env()
service = UserData(settings)


@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        identity = user_identity(event)
        budget = Budget.of(context)
        if event.get("routeKey") == "DELETE /api/me":
            erasure = service.erase(identity.user_id, budget)
            logger.info("user data erased", extra={"complete": erasure.complete, "removed": erasure.removed})
            count("Erasures", complete=str(erasure.complete).lower())
            return json_response(200, erasure.to_dict())
        document = service.export(identity.user_id, budget)
        logger.info("user data exported", extra={"complete": document["complete"]})
        return json_response(200, document, {"cache-control": "no-store"})
    except DomainError as error:
        if isinstance(error, DependencyUnavailable):
            log_dependency_failure(error)
        return json_response(*error_answer(error))
