"""The time an invocation has left, from Lambda's context: work that pages stops before it runs out.

UserDataFunction (an export or an erasure) and ImportHostedThreadsFunction page through more
than one invocation may hold; each checks its ``Deadline`` before the next piece of work and
stops with ``OutOfTime``, saying what was left for the next call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any


class OutOfTime(Exception):
    """The deadline is too close to start (or keep waiting on) this work: stop, and say what was left."""


class Deadline:
    """Seconds left in this invocation (none bounds it without ``remaining_seconds``, as when
    `make import-hosted-threads` runs to the end); ``check`` raises ``OutOfTime`` inside ``margin``."""

    def __init__(self, remaining_seconds: Callable[[], float] | None = None, *, margin: float = 0.0) -> None:
        self._remaining_seconds = remaining_seconds
        self.margin = margin

    @classmethod
    def of(cls, context: Any, *, fallback_seconds: float | None = None, margin: float = 0.0) -> Deadline:
        """The deadline of Lambda's ``context``; without one, ``fallback_seconds`` from now (or none)."""
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            return cls(lambda: context.get_remaining_time_in_millis() / 1000, margin=margin)
        if fallback_seconds is None:
            return cls(margin=margin)
        until = time.monotonic() + fallback_seconds
        return cls(lambda: until - time.monotonic(), margin=margin)

    def remaining(self) -> float:
        return math.inf if self._remaining_seconds is None else self._remaining_seconds()

    def check(self) -> None:
        if self.remaining() < self.margin:
            raise OutOfTime()
