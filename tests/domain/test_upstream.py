"""The one reading of an upstream's Retry-After, shared by the session route, dictation and the
hosted import: the delay it names, and the whole seconds our own Retry-After passes on."""

from __future__ import annotations

import pytest
from chatkit_backend.openai_api.retry import DEFAULT_RETRY_AFTER_SECONDS, retry_after, retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "seconds", "whole"),
    [
        ({"retry-after-ms": "400"}, 0.4, 1),
        ({"retry-after-ms": "2500", "retry-after": "9"}, 2.5, 3),  # the precise one wins
        ({"retry-after": "7"}, 7.0, 7),
        ({"retry-after": "0"}, 0.0, 1),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0, 3),  # an unreadable one is skipped
        ({"retry-after": "Fri, 27 Nov 2026 10:00:00 GMT"}, None, DEFAULT_RETRY_AFTER_SECONDS),
        ({"retry-after": "-5"}, None, DEFAULT_RETRY_AFTER_SECONDS),
        ({"retry-after": "nan"}, None, DEFAULT_RETRY_AFTER_SECONDS),
        ({"retry-after": "inf"}, None, DEFAULT_RETRY_AFTER_SECONDS),
        ({}, None, DEFAULT_RETRY_AFTER_SECONDS),
    ],
)
def test_retry_after_reads_the_upstreams_delay(
    headers: dict[str, str], seconds: float | None, whole: int
) -> None:
    assert retry_after(headers) == seconds
    assert retry_after_seconds(headers) == whole
