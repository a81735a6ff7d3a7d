"""What the functions that call OpenAI share about its answers, without importing ``openai``."""

from __future__ import annotations

import math
from collections.abc import Mapping

DEFAULT_RETRY_AFTER_SECONDS = 10


def retry_after_seconds(headers: Mapping[str, str]) -> int:
    """Whole seconds from an upstream's retry-after-ms / retry-after headers; a default when absent."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        try:
            seconds = float(raw) / divisor if raw is not None else math.nan
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return max(1, math.ceil(seconds))
    return DEFAULT_RETRY_AFTER_SECONDS
