"""A local API Gateway HTTP API in front of the real handlers, driven by template.yaml.

What it does, in API Gateway's order: answer CORS preflight from the template's
CorsConfiguration; match the route (404 otherwise); for authorized routes, answer 401 when the
identity header is missing without calling the authorizer, call the Lambda authorizer with a
payload-2.0 REQUEST event, cache its verdict per identity for ReauthorizeEvery seconds, answer
403 on ``isAuthorized: false``; build the payload-2.0 event with the authorizer's context; invoke
the function in its worker; turn its result into the HTTP response; add CORS headers.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from local.events import authorizer_event, gateway_event
from local.runtime import FunctionImportError, FunctionWorker, Invocation
from local.template import AuthorizerSpec, CorsSpec, Route

log = logging.getLogger("local.gateway")

# API Gateway HTTP API's request payload limit.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


def gateway_error(status: int, message: str) -> Reply:
    """API Gateway's own error shape: ``{"message": "..."}``."""
    return Reply(status, [("content-type", "application/json")], json.dumps({"message": message}).encode())


class AuthorizerCache:
    """Verdicts per identity value, kept for ReauthorizeEvery seconds (0 disables caching)."""

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, identity: tuple[str, ...]) -> dict[str, Any] | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(identity)
        if entry is None or time.monotonic() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def put(self, identity: tuple[str, ...], verdict: dict[str, Any]) -> None:
        if self.ttl > 0:
            with self._lock:
                self._entries[identity] = (time.monotonic(), verdict)


class Gateway:
    """Routes requests to function workers the way API Gateway HTTP API would."""

    def __init__(
        self,
        routes: list[Route],
        workers: dict[str, FunctionWorker],
        authorizer: AuthorizerSpec | None,
        cors: CorsSpec | None,
    ) -> None:
        self.routes = routes
        self.workers = workers
        self.authorizer = authorizer
        self.cors = cors
        self.cache = AuthorizerCache(authorizer.reauthorize_every if authorizer else 0)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> tuple[Reply, str]:
        """The reply to one request, and what served it (for the log line: function, auth=...)."""
        url = urlsplit(target)
        path, raw_query = url.path or "/", url.query
        origin = headers.get("origin")
        if method == "OPTIONS" and self.cors and origin and "access-control-request-method" in headers:
            return self._preflight(origin, headers), "cors-preflight"
        route, path_params = self._route(method, path)
        if route is None:
            return self._with_cors(gateway_error(404, "Not Found"), origin), "no-route"
        if len(body) > MAX_BODY_BYTES:
            return self._with_cors(gateway_error(413, "Request Entity Too Large"), origin), "too-large"
        context: dict[str, Any] | None = None
        auth = "auth=none"
        if route.authorized and self.authorizer:
            verdict, auth = self._authorize(method, path, raw_query, headers, route, path_params, source_ip)
            if isinstance(verdict, Reply):
                return self._with_cors(verdict, origin), f"{route.function} {auth}"
            context = verdict
        event = gateway_event(
            method, path, raw_query, headers, body or None,
            route_key=route.route_key, path_params=path_params or None,
            authorizer_context=context, source_ip=source_ip,
        )
        reply = self._invoke(route.function, event)
        return self._with_cors(reply, origin), f"{route.function} {auth}"

    def _route(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None, {}

    def _authorize(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: dict[str, str],
        route: Route,
        path_params: dict[str, str],
        source_ip: str,
    ) -> tuple[dict[str, Any] | Reply, str]:
        """The authorizer's context, or the gateway's refusal; and how it was decided."""
        assert self.authorizer is not None
        identity = tuple(headers.get(name, "") for name in self.authorizer.identity_headers)
        if not all(identity):
            # API Gateway refuses a request without its identity source before any authorizer runs.
            return gateway_error(401, "Unauthorized"), "auth=missing-identity"
        verdict = self.cache.get(identity)
        how = "auth=cached"
        if verdict is None:
            how = "auth=called"
            event = authorizer_event(
                method, path, raw_query, headers, list(identity),
                route_key=route.route_key, path_params=path_params or None, source_ip=source_ip,
            )
            outcome = self._call(self.authorizer.function, event)
            result = outcome.result
            if outcome.error or not isinstance(result, dict) or not isinstance(result.get("isAuthorized"), bool):
                log.error("authorizer failed or answered an invalid response: %s", outcome.error or result)
                return gateway_error(500, "Internal Server Error"), "auth=error"
            verdict = result
            self.cache.put(identity, verdict)
        if not verdict["isAuthorized"]:
            return gateway_error(403, "Forbidden"), f"{how}:denied"
        context = verdict.get("context") or {}
        return (context if isinstance(context, dict) else {}), f"{how}:allowed"

    def _call(self, function: str, event: dict[str, Any]) -> Invocation:
        try:
            return self.workers[function].invoke(event)
        except FunctionImportError as exc:
            return Invocation(error=exc.payload)

    def _invoke(self, function: str, event: dict[str, Any]) -> Reply:
        outcome = self._call(function, event)
        if outcome.error:
            log.error("%s raised %s: %s", function, outcome.error.get("errorType"), outcome.error.get("errorMessage"))
            for line in outcome.error.get("stackTrace", []):
                log.error("%s", line.rstrip())
            return gateway_error(500, "Internal Server Error")
        return to_reply(outcome.result)

    def _preflight(self, origin: str, headers: dict[str, str]) -> Reply:
        assert self.cors is not None
        if not self.cors.allows(origin):
            # API Gateway answers the preflight but grants nothing, so the browser refuses.
            return Reply(204, [])
        requested = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
        allowed_headers = self.cors.allow_headers
        granted_headers = requested if "*" in allowed_headers else [h for h in requested if h in allowed_headers]
        reply_headers = [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", ",".join(self.cors.allow_methods)),
            ("vary", "origin"),
        ]
        if granted_headers:
            reply_headers.append(("access-control-allow-headers", ",".join(granted_headers)))
        if self.cors.max_age is not None:
            reply_headers.append(("access-control-max-age", str(self.cors.max_age)))
        if self.cors.allow_credentials:
            reply_headers.append(("access-control-allow-credentials", "true"))
        return Reply(204, reply_headers)

    def _with_cors(self, reply: Reply, origin: str | None) -> Reply:
        if not (self.cors and origin and self.cors.allows(origin)):
            return reply
        extra = [("access-control-allow-origin", origin), ("vary", "origin")]
        if self.cors.expose_headers:
            extra.append(("access-control-expose-headers", ",".join(self.cors.expose_headers)))
        if self.cors.allow_credentials:
            extra.append(("access-control-allow-credentials", "true"))
        names = {name for name, _ in extra}
        return Reply(reply.status, [h for h in reply.headers if h[0] not in names] + extra, reply.body)


def to_reply(result: Any) -> Reply:
    """A payload-2.0 function result as API Gateway turns it into an HTTP response."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway assumes 200 and sends the result as JSON.
        body = result if isinstance(result, str) else json.dumps(result)
        return Reply(200, [("content-type", "application/json")], body.encode())
    headers = [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name).lower(), str(v)) for v in values)
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return Reply(int(result["statusCode"]), headers, body)


def serve(gateway: Gateway, host: str, port: int) -> ThreadingHTTPServer:
    """A started HTTP server (in a background thread) that answers with ``gateway``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-api-gateway"

        def _handle(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                reply, served_by = gateway_error(413, "Request Entity Too Large"), "too-large"
                self.close_connection = True
            else:
                body = self.rfile.read(length) if length else b""
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    key = name.lower()
                    headers[key] = f"{headers[key]},{value}" if key in headers else value
                try:
                    reply, served_by = gateway.handle(self.command, self.path, headers, body, self.client_address[0])
                except Exception:
                    log.exception("the local gateway failed on %s %s", self.command, self.path)
                    reply, served_by = gateway_error(500, "Internal Server Error"), "gateway-failure"
                    self.close_connection = True
            self.send_response(reply.status)
            for name, value in reply.headers:
                if name not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
            log.info(
                "%s %s %d %s %.1f ms",
                self.command, urlsplit(self.path).path, reply.status, served_by,
                (time.perf_counter() - started) * 1000,
            )

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle

        def log_message(self, format: str, *args: Any) -> None:  # the gateway logs its own line
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="local-api-gateway", daemon=True).start()
    return server
