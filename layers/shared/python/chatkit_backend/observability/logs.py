"""The one logger every function uses: structured JSON lines, correlation by request id.

Powertools reads POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL from the template's Globals.
Every line of a request carries two ids: ``function_request_id`` (Lambda's, as in the
function's REPORT line) and ``correlation_id`` (API Gateway's ``requestId``, as in the access
log), so a 3 a.m. search goes from an access-log line to the function's lines and back.
Handlers get them from ``logger.inject_lambda_context(correlation_id_path=REQUEST_ID_PATH)``;
the ChatKit web app, which Lambda does not call as a handler, from ``bind_web_request``.

Powertools is imported when the container writes its first line, not at init: a request that
logs nothing (a valid token, a tools/list) never pays for it. Keys appended before then are
handed to it when it is built, so every line carries the same keys either way.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from chatkit_backend.errors import DependencyUnavailable

# API Gateway's request id in an HTTP API or REST API event (and in an authorizer's event).
REQUEST_ID_PATH = "requestContext.requestId"


class LazyLogger:
    """Powertools' ``Logger``, built on its first use; every attribute is the Logger's own.

    ``append_keys``, ``set_correlation_id`` and ``inject_lambda_context`` work before then: the
    keys wait here for the Logger, which gets them when it is built.
    """

    def __init__(self) -> None:
        self._built: Any = None
        self._keys: dict[str, Any] = {}
        self._cold_start = True
        # Two threads logging their first lines at once (a worker's warning, the loop's line)
        # must not build two Loggers.
        self._lock = threading.Lock()

    def _powertools(self) -> Any:
        with self._lock:
            if self._built is None:
                from aws_lambda_powertools import Logger

                built = Logger()
                built.append_keys(**self._keys)
                self._built = built
        return self._built

    def __getattr__(self, name: str) -> Any:
        return getattr(self._powertools(), name)

    def append_keys(self, **keys: Any) -> None:
        with self._lock:
            if self._built is None:
                self._keys.update(keys)
                return
        self._built.append_keys(**keys)

    def set_correlation_id(self, value: str | None) -> None:
        self.append_keys(correlation_id=value)

    def inject_lambda_context(
        self, handler: Callable[..., Any] | None = None, *, correlation_id_path: str | None = None
    ) -> Any:
        """Powertools' decorator of that name, as a handler uses it: every line of the invocation
        carries ``cold_start``, the function's name, memory, ARN and request id, and the value at
        ``correlation_id_path`` (a dotted path into the event) as ``correlation_id``. The event
        itself is never logged (POWERTOOLS_LOGGER_LOG_EVENT does nothing): it carries the token."""
        if handler is None:
            return functools.partial(self.inject_lambda_context, correlation_id_path=correlation_id_path)

        @functools.wraps(handler)
        def decorate(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            self.append_keys(
                cold_start=self._cold_start,
                function_name=context.function_name,
                function_memory_size=context.memory_limit_in_mb,
                function_arn=context.invoked_function_arn,
                function_request_id=context.aws_request_id,
            )
            self._cold_start = False
            if correlation_id_path:
                self.set_correlation_id(value_at(event, correlation_id_path))
            return handler(event, context, *args, **kwargs)

        return decorate


def value_at(event: Any, path: str) -> Any:
    """The value at a dotted path of the event (``requestContext.requestId``), or None."""
    value = event
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return value


logger = LazyLogger()


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
        extra={
            "dependency": error.service,
            "cause": error.cause,
            "retry_after": error.retry_after,
            **context,
        },
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
