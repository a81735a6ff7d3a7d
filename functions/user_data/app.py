"""GET /api/me/export and DELETE /api/me: the signed-in user's data, taken out or erased.

What a request gets: ``chatkit_backend.users.service``.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.observability.logs import REQUEST_ID_PATH, logger
from chatkit_backend.users.data import UserDataSettings
from chatkit_backend.users.service import UserDataService

settings = UserDataSettings.from_env()
service = UserDataService(settings)


@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return service.handle(event, context)
