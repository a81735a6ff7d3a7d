"""GET /health: a public liveness check that touches no dependency, so it stays cheap and honest."""

from __future__ import annotations

from typing import Any

from chatkit_backend import __version__
from chatkit_backend.http.responses import json_response
from chatkit_backend.observability.logs import REQUEST_ID_PATH, logger
from chatkit_backend.settings import HealthSettings

settings = HealthSettings.from_env()


@logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return json_response(
        200,
        {"status": "ok", "service": settings.service, "stage": settings.stage, "version": __version__},
        {"cache-control": "no-store"},
    )
