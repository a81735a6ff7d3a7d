"""What the functions that call OpenAI share about its answers, without importing ``openai``."""

from __future__ import annotations

import math
from collections.abc import Mapping

DEFAULT_RETRY_AFTER_SECONDS = 10


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds an upstream asked to wait (``retry-after-ms`` first, then ``retry-after`` in
    seconds), or None when it named no usable delay. HTTP-date values count as none."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        try:
            seconds = float(raw) / divisor if raw is not None else math.nan
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def retry_after_seconds(headers: Mapping[str, str]) -> int:
    """Whole seconds for our own ``Retry-After``: the upstream's delay rounded up (at least 1),
    or a default when it named none."""
    seconds = retry_after(headers)
    return DEFAULT_RETRY_AFTER_SECONDS if seconds is None else max(1, math.ceil(seconds))
