"""The one logger every function uses: structured JSON lines, correlation by request id.

Powertools reads POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL from the template's Globals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aws_lambda_powertools import Logger

from chatkit_backend.errors import DependencyUnavailable

logger = Logger()


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
