"""ImportHostedThreadsFunction: hosted ChatKit threads into ChatKitTable, invoked by hand.

    sam remote invoke ImportHostedThreadsFunction --stack-name <stack> --event '{"user": "alice", "dry_run": true}'

The event takes ``user`` (one user's threads; all users' when left out), ``dry_run`` (count,
write nothing) and ``continuation``. The answer is ``{"done", "continuation", "totals",
"summary"}``: while ``done`` is false, invoke again with ``{"continuation": <that token>}``.
A bad event answers ``{"done": false, "error": ...}`` and changes nothing. The import itself is
``chatkit_backend.migration.hosted_import`` (docs/migration.md).
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.migration.hosted_import import HostedImport, ImportSettings
from chatkit_backend.observability.logs import logger

settings = ImportSettings.from_env()
service = HostedImport(settings)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return service.invoke(event, context)
