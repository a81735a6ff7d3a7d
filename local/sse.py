"""Server-sent events, read one way wherever a stream is read (the bench, the tests), by httpx-sse.

The chat answers a turn as an event stream whose every event's data is a JSON object (ChatKit's
events). These give that JSON, event by event: from a response as it streams, from a whole body,
or from chunks that each arrived at a known moment (when a test or the bench times the stream).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx
from httpx_sse import EventSource

EVENT_STREAM = "text/event-stream"


def events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON of each event of ``response``, as it arrives when the response streams."""
    for event in EventSource(response).iter_sse():
        yield event.json()


def parse(body: bytes | str) -> list[dict[str, Any]]:
    """The JSON of each event of a whole event-stream body."""
    return [event for _, event in timed([(0.0, body.encode() if isinstance(body, str) else body)])]


def timed(chunks: Iterable[tuple[float, bytes]]) -> Iterator[tuple[float, dict[str, Any]]]:
    """Each event of a stream that came in ``(moment, bytes)`` chunks, with the moment of the chunk
    that completed it (its last byte's arrival)."""
    moment = [0.0]

    def body() -> Iterator[bytes]:
        for at, chunk in chunks:
            moment[0] = at
            yield chunk

    response = httpx.Response(200, headers={"content-type": EVENT_STREAM}, content=body())
    for event in events(response):
        yield moment[0], event
