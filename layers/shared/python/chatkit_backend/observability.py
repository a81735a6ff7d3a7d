"""The one logger every function uses: structured JSON lines, correlation by request id.

Powertools reads POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL from the template's Globals.
Every line of a request carries two ids: ``function_request_id`` (Lambda's, as in the
function's REPORT line) and ``correlation_id`` (API Gateway's ``requestId``, as in the access
log), so a 3 a.m. search goes from an access-log line to the function's lines and back.
Handlers get them from ``logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)``;
the ChatKit web app, which Lambda does not call as a handler, from ``bind_web_request``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from chatkit_backend.errors import DependencyUnavailable

logger = Logger()
# API Gateway's request id in an HTTP API or REST API event (and in an authorizer's event).
REQUEST_ID_PATH = "requestContext.requestId"


def bind_web_request(lambda_context_header: str | None, request_context: dict[str, Any] | None) -> None:
    """Put the ids of the request the Lambda Web Adapter forwards on every log line that follows.

    The adapter sends Lambda's context as JSON in ``x-amzn-lambda-context`` (``request_id``,
    ``xray_trace_id``) and API Gateway's in ``x-amzn-request-context``. A sandbox serves one
    request at a time, so the keys belong to the request until the next one replaces them. The
    X-Ray trace id goes where the X-Ray SDK reads it in Lambda, so traced calls join the trace.
    """
    lambda_context: dict[str, Any] = {}
    if lambda_context_header:
        try:
            parsed = json.loads(lambda_context_header)
        except ValueError:
            parsed = None
        lambda_context = parsed if isinstance(parsed, dict) else {}
    logger.append_keys(
        function_request_id=lambda_context.get("request_id"),
        correlation_id=(request_context or {}).get("requestId"),
    )
    trace_id = lambda_context.get("xray_trace_id")
    if isinstance(trace_id, str) and trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id


def log_dependency_failure(error: DependencyUnavailable, **context: str) -> None:
    """One warning line per refused request: which AWS service failed and how (never the request)."""
    logger.warning(
        "an AWS dependency failed",
        extra={"dependency": error.service, "cause": error.cause, "retry_after": error.retry_after, **context},
    )


class Throttle:
    """``ready()`` is true at most once per ``interval`` seconds.

    For warnings that would otherwise repeat on every request while a dependency is down: the
    first failure is logged at once, then one line a minute says it is still going on.
    """

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def ready(self) -> bool:
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.interval:
                return False
            self._last = now
            return True
