"""A stand-in HTTP server on a free loopback port, for as long as a ``with`` block runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
