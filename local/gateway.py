"""A local API Gateway HTTP API (and REST API) in front of the real handlers, driven by template.yaml.

What it does, in API Gateway's order: answer CORS preflight from the template's
CorsConfiguration; match the route (404 otherwise); for authorized routes, answer 401 when the
identity header is missing without calling the authorizer, call the Lambda authorizer with a
payload-2.0 REQUEST event, cache its verdict per identity for ReauthorizeEvery seconds, answer
403 on ``isAuthorized: false``; build the payload-2.0 event with the authorizer's context; invoke
the function in its worker; turn its result into the HTTP response; add CORS headers.

REST API routes (``Api`` events; another API and host in AWS, the same port here) take their
own way: a REQUEST authorizer answering with an IAM policy (401 without the identity header,
403 unless the policy allows the method), the authorizer's context in ``requestContext.authorizer``,
and a function run through the Lambda Web Adapter, whose response is streamed to the client
chunk by chunk when the route's ResponseTransferMode is RESPONSE_STREAM.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from local.events import REST_API_ID, authorizer_event, gateway_event, rest_authorizer_event, rest_request_context
from local.runtime import FunctionImportError, FunctionWorker, Invocation, WebAppWorker
from local.template import ACCOUNT_ID, REGION, AuthorizerSpec, CorsSpec, Route

log = logging.getLogger("local.gateway")

# API Gateway HTTP API's request payload limit.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunks: Iterator[bytes] | None = None  # a streamed body, sent as it comes (chunked)


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
        rest_authorizer: AuthorizerSpec | None = None,
        rest_stage: str = "Prod",
    ) -> None:
        self.routes = routes
        self.workers = workers
        self.authorizer = authorizer
        self.cors = cors
        self.cache = AuthorizerCache(authorizer.reauthorize_every if authorizer else 0)
        self.rest_authorizer = rest_authorizer
        self.rest_stage = rest_stage
        self.rest_cache = AuthorizerCache(rest_authorizer.reauthorize_every if rest_authorizer else 0)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> tuple[Reply, str]:
        """The reply to one request, and what served it (for the log line: function, auth=...)."""
        url = urlsplit(target)
        path, raw_query = url.path or "/", url.query
        origin = headers.get("origin")
        route, path_params = self._route(method, path)
        if route is not None and route.api == "rest":
            if len(body) > MAX_BODY_BYTES:
                return gateway_error(413, "Request Entity Too Large"), "too-large"
            return self._rest(route, path_params, method, path, raw_query, headers, body, source_ip)
        if method == "OPTIONS" and self.cors and origin and "access-control-request-method" in headers:
            return self._preflight(origin, headers), "cors-preflight"
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
        verdict, how = self._verdict(
            self.authorizer, self.cache, headers,
            lambda identity: authorizer_event(
                method, path, raw_query, headers, identity,
                route_key=route.route_key, path_params=path_params or None, source_ip=source_ip,
            ),
            lambda result: isinstance(result.get("isAuthorized"), bool),
        )
        if isinstance(verdict, Reply):
            return verdict, how
        if not verdict["isAuthorized"]:
            return gateway_error(403, "Forbidden"), f"{how}:denied"
        context = verdict.get("context") or {}
        return (context if isinstance(context, dict) else {}), f"{how}:allowed"

    def _verdict(
        self,
        spec: AuthorizerSpec,
        cache: AuthorizerCache,
        headers: dict[str, str],
        build_event: Callable[[list[str]], dict[str, Any]],
        well_formed: Callable[[dict[str, Any]], bool],
    ) -> tuple[dict[str, Any] | Reply, str]:
        """The authorizer's answer for this request's identity (cached per identity), or the
        gateway's own refusal; and how it was decided, for the log line."""
        identity = tuple(headers.get(name, "") for name in spec.identity_headers)
        if not all(identity):
            # API Gateway refuses a request without its identity source before any authorizer runs.
            return gateway_error(401, "Unauthorized"), "auth=missing-identity"
        verdict = cache.get(identity)
        if verdict is not None:
            return verdict, "auth=cached"
        outcome = self._call(spec.function, build_event(list(identity)))
        if outcome.error and outcome.error.get("errorMessage") == "Unauthorized":
            # An authorizer that raises "Unauthorized" asks API Gateway for a 401.
            return gateway_error(401, "Unauthorized"), "auth=called:unauthorized"
        if outcome.error or not isinstance(outcome.result, dict) or not well_formed(outcome.result):
            log.error("authorizer %s failed or answered out of shape: %s", spec.function, outcome.error or outcome.result)
            return gateway_error(500, "Internal Server Error"), "auth=error"
        cache.put(identity, outcome.result)
        return outcome.result, "auth=called"

    def _rest(
        self,
        route: Route,
        path_params: dict[str, str],
        method: str,
        path: str,
        raw_query: str,
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
    ) -> tuple[Reply, str]:
        """A REST API route: policy authorizer, then the function's web app through the adapter."""
        context = rest_request_context(method, path, route.path, self.rest_stage, headers, source_ip)
        auth = "auth=none"
        if route.authorized and self.rest_authorizer:
            verdict, auth = self._authorize_rest(method, path, raw_query, headers, route, path_params, source_ip)
            if isinstance(verdict, Reply):
                return verdict, f"{route.function} {auth}"
            context["authorizer"] = verdict
        worker = self.workers[route.function]
        if not isinstance(worker, WebAppWorker):
            log.error("%s: the local stack serves REST routes for Lambda Web Adapter functions only", route.function)
            return gateway_error(500, "Internal Server Error"), f"{route.function} {auth}"
        try:
            answer = worker.request(method, path + (f"?{raw_query}" if raw_query else ""), headers, body, context)
        except FunctionImportError as exc:
            log.error("%s", exc)
            return gateway_error(500, "Internal Server Error"), f"{route.function} {auth}"
        except OSError as exc:
            log.error("%s did not answer: %s", route.function, exc)
            return gateway_error(502, "Internal server error"), f"{route.function} {auth}"
        # The gateway sends its own date and server headers, as API Gateway does.
        answer_headers = [(k, v) for k, v in answer.headers if k not in ("date", "server")]
        if route.streaming:
            return Reply(answer.status, answer_headers, chunks=answer.chunks), f"{route.function} {auth} streamed"
        return Reply(answer.status, answer_headers, b"".join(answer.chunks)), f"{route.function} {auth}"

    def _authorize_rest(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: dict[str, str],
        route: Route,
        path_params: dict[str, str],
        source_ip: str,
    ) -> tuple[dict[str, Any] | Reply, str]:
        """``requestContext.authorizer`` (principalId and context), or REST API's refusal."""
        assert self.rest_authorizer is not None
        verdict, how = self._verdict(
            self.rest_authorizer, self.rest_cache, headers,
            lambda identity: rest_authorizer_event(
                method, path, raw_query, headers, resource=route.path, stage=self.rest_stage,
                path_params=path_params or None, source_ip=source_ip,
            ),
            lambda result: isinstance(result.get("policyDocument"), dict),
        )
        if isinstance(verdict, Reply):
            return verdict, how
        # The cached policy is checked against each request's own method ARN, as REST API does.
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{REST_API_ID}/{self.rest_stage}/{method}{path}"
        effect = policy_effect(verdict["policyDocument"], method_arn)
        if effect != "Allow":
            message = "User is not authorized to access this resource" + (" with an explicit deny" if effect == "Deny" else "")
            return Reply(403, [("content-type", "application/json")], json.dumps({"Message": message}).encode()), f"{how}:denied"
        context = verdict.get("context") if isinstance(verdict.get("context"), dict) else {}
        return {"principalId": str(verdict.get("principalId", "")), **context}, f"{how}:allowed"

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


def policy_effect(policy: dict[str, Any], method_arn: str) -> str | None:
    """"Deny" if any statement denies ``method_arn``, else "Allow" if one allows it, else None."""
    effects = set()
    for statement in policy.get("Statement") or []:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(a in ("*", "execute-api:*", "execute-api:Invoke") for a in actions):
            continue
        if any(fnmatch.fnmatchcase(method_arn, pattern) for pattern in resources):
            effects.add(statement.get("Effect"))
    return "Deny" if "Deny" in effects else ("Allow" if "Allow" in effects else None)


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
            if reply.chunks is not None:
                self._stream(reply.chunks)
            else:
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)
            log.info(
                "%s %s %d %s %.1f ms",
                self.command, urlsplit(self.path).path, reply.status, served_by,
                (time.perf_counter() - started) * 1000,
            )

        def _stream(self, chunks: Iterator[bytes]) -> None:
            """Each chunk to the client as soon as the function wrote it (HTTP/1.1 chunked)."""
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            try:
                for chunk in chunks:
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True  # the client went away mid-stream
            finally:
                chunks.close()  # type: ignore[attr-defined]

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle

        def log_message(self, format: str, *args: Any) -> None:  # the gateway logs its own line
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="local-api-gateway", daemon=True).start()
    return server
