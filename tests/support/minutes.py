"""Per-minute limits count in fixed UTC minutes: a test that needs several requests inside one
minute starts them early in a minute, so a loaded machine cannot carry them over its edge."""

from __future__ import annotations

import time


def start_of_a_minute(needed_seconds: float = 40.0) -> None:
    """Return at once when ``needed_seconds`` are left in this minute; else wait for the next."""
    left = 60 - time.time() % 60
    if left < needed_seconds:
        time.sleep(left + 0.05)
