"""The demo page of `make dev`: local/emulator/demo/index.html on an origin of its own, which the API allows.

The page is static; ``config.js`` tells it where this stack's API is (the page asks it for a
chat session, which names the ``/chatkit`` URL) and the upload limit, so the page itself stays
the file a frontend developer copies.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = Path(__file__).parent / "demo" / "index.html"


def demo_origins(port: int) -> list[str]:
    """The origins a browser may show the demo page under (both names of the loopback)."""
    return [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]


def serve_demo(host: str, port: int, api_url: str, attachment_max_bytes: int) -> ThreadingHTTPServer:
    """A started server (background thread) for the page and its config."""
    config = {"apiUrl": api_url, "attachmentMaxBytes": attachment_max_bytes, "domainKey": "local-dev"}
    files = {
        "/": ("text/html; charset=utf-8", PAGE.read_bytes()),
        "/index.html": ("text/html; charset=utf-8", PAGE.read_bytes()),
        "/config.js": (
            "text/javascript; charset=utf-8",
            f"window.CHATKIT_DEMO = {json.dumps(config)};\n".encode(),
        ),
    }

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            content_type, body = files.get(self.path.split("?", 1)[0], ("text/plain", b""))
            self.send_response(200 if body else 404)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-page", daemon=True).start()
    return server
