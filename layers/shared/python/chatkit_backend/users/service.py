"""UserDataFunction's service: ``GET /api/me/export`` and ``DELETE /api/me``, event in, response out.

Only user tokens (``auth.identity.user_identity``): a chat session's token may neither read nor
erase an account. The work is ``users.data``'s; it pages through the user's data within the
invocation's time and says what was left.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.auth.identity import user_identity
from chatkit_backend.aws.deadline import Deadline
from chatkit_backend.errors import DependencyUnavailable, DomainError
from chatkit_backend.http.responses import error_answer, json_response
from chatkit_backend.observability.logs import log_dependency_failure, logger
from chatkit_backend.observability.metrics import count
from chatkit_backend.users.data import TIME_MARGIN_SECONDS, UserData, UserDataSettings

# Without Lambda's context (a local call), the time a 30 s gateway request leaves.
FALLBACK_SECONDS = 25.0


class UserDataService:
    """Built once per container from the function's settings."""

    def __init__(self, settings: UserDataSettings) -> None:
        self.data = UserData(settings)

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            identity = user_identity(event)
            deadline = Deadline.of(context, fallback_seconds=FALLBACK_SECONDS, margin=TIME_MARGIN_SECONDS)
            if event.get("routeKey") == "DELETE /api/me":
                erasure = self.data.erase(identity.user_id, deadline)
                logger.info(
                    "user data erased", extra={"complete": erasure.complete, "removed": erasure.removed}
                )
                count("Erasures", complete=str(erasure.complete).lower())
                return json_response(200, erasure.to_dict())
            document = self.data.export(identity.user_id, deadline)
            logger.info("user data exported", extra={"complete": document["complete"]})
            return json_response(200, document, {"cache-control": "no-store"})
        except DomainError as error:
            if isinstance(error, DependencyUnavailable):
                log_dependency_failure(error)
            return json_response(*error_answer(error))
