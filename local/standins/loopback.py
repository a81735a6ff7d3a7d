"""What every stand-in serves with: a free loopback port for as long as a ``with`` block runs, and a
request handler that answers in one write and logs nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` while the block runs; each request on its own daemon thread."""
    # TCP_NODELAY: a stand-in answers at once, without Nagle's wait for the client's delayed ACK
    # between the small writes of a streamed answer.
    nodelay = type(handler.__name__, (handler,), {"disable_nagle_algorithm": True})
    server = ThreadingHTTPServer(("127.0.0.1", 0), nodelay)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class StandInHandler(BaseHTTPRequestHandler):
    """A stand-in's request handler: HTTP/1.1, answers with a length, no access log."""

    protocol_version = "HTTP/1.1"

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self.answer(
            status, json.dumps(value).encode(), {"content-type": "application/json", **(headers or {})}
        )

    def log_message(self, format: str, *args: Any) -> None:
        return
