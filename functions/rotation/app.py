"""Secrets Manager rotation function for TokenSigningSecret: one step per invocation.

The steps live in ``chatkit_backend.auth.rotation``. A failed step raises, so Secrets Manager
marks it failed and retries; AWSCURRENT only moves in the last step.
"""

from __future__ import annotations

from typing import Any

from chatkit_backend.auth.rotation import rotate
from chatkit_backend.observability.logs import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> None:
    rotate(event)
