"""A local API Gateway HTTP API (and REST API) in front of the real handlers, driven by template.yaml.

What it does, in API Gateway's order: answer CORS preflight from the template's
CorsConfiguration; match the route (404 otherwise); for authorized routes, answer 401 when the
identity header is missing without calling the authorizer, call the Lambda authorizer with a
payload-2.0 REQUEST event, cache its verdict per identity for ReauthorizeEvery seconds, answer
403 on ``isAuthorized: false``; build the payload-2.0 event with the authorizer's context; invoke
the function in one of its sandboxes; turn its result into the HTTP response; add CORS headers.

REST API routes (``Api`` events; another API and host in AWS, the same port here) take their
own way: a REQUEST authorizer answering with an IAM policy (401 without the identity header,
403 unless the policy allows the method), the authorizer's context in ``requestContext.authorizer``,
the API's GatewayResponses headers on its own errors, and a function run through the Lambda Web
Adapter, whose response is streamed to the client chunk by chunk when the route's
ResponseTransferMode is RESPONSE_STREAM.

HTTP itself is uvicorn's (``serve``): HTTP/1.1 framing by h11, TCP_NODELAY on every connection.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from local.emulator.events import (
    REST_API_ID,
    authorizer_event,
    gateway_event,
    rest_authorizer_event,
    rest_request_context,
)
from local.emulator.runtime import Function, FunctionImportError, Invocation, WebApp
from local.template import ACCOUNT_ID, REGION, AuthorizerSpec, CorsSpec, Route

log = logging.getLogger("local.emulator.gateway")

# API Gateway HTTP API's request payload limit.
MAX_BODY_BYTES = 10 * 1024 * 1024
# REST API's GatewayResponse type for each of the gateway's own error statuses; others fall back
# to DEFAULT_4XX / DEFAULT_5XX.
GATEWAY_RESPONSE_TYPES = {
    401: "UNAUTHORIZED",
    403: "ACCESS_DENIED",
    413: "REQUEST_TOO_LARGE",
    504: "INTEGRATION_TIMEOUT",
}


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
        workers: dict[str, Function | WebApp],
        authorizer: AuthorizerSpec | None,
        cors: CorsSpec | None,
        rest_authorizer: AuthorizerSpec | None = None,
        rest_stage: str = "Prod",
        rest_gateway_responses: dict[str, list[tuple[str, str]]] | None = None,
    ) -> None:
        self.routes = routes
        self.workers = workers
        self.authorizer = authorizer
        self.cors = cors
        self.cache = AuthorizerCache(authorizer.reauthorize_every if authorizer else 0)
        self.rest_authorizer = rest_authorizer
        self.rest_stage = rest_stage
        self.rest_cache = AuthorizerCache(rest_authorizer.reauthorize_every if rest_authorizer else 0)
        self.rest_gateway_responses = rest_gateway_responses or {}

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[Reply, str]:
        """The reply to one request, and what served it (for the log line: function, auth=...)."""
        url = urlsplit(target)
        path, raw_query = url.path or "/", url.query
        origin = headers.get("origin")
        route, path_params = self._route(method, path)
        if route is not None and route.api == "rest":
            if len(body) > MAX_BODY_BYTES:
                return self._rest_error(gateway_error(413, "Request Entity Too Large")), "too-large"
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
            method,
            path,
            raw_query,
            headers,
            body or None,
            route_key=route.route_key,
            path_params=path_params or None,
            authorizer_context=context,
            source_ip=source_ip,
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
            self.authorizer,
            self.cache,
            headers,
            lambda identity: authorizer_event(
                method,
                path,
                raw_query,
                headers,
                identity,
                route_key=route.route_key,
                path_params=path_params or None,
                source_ip=source_ip,
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
            log.error(
                "authorizer %s failed or answered out of shape: %s",
                spec.function,
                outcome.error or outcome.result,
            )
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
            verdict, auth = self._authorize_rest(
                method, path, raw_query, headers, route, path_params, source_ip
            )
            if isinstance(verdict, Reply):
                return self._rest_error(verdict), f"{route.function} {auth}"
            context["authorizer"] = verdict
        worker = self.workers[route.function]
        if not isinstance(worker, WebApp):
            log.error(
                "%s: the local stack serves REST routes for Lambda Web Adapter functions only", route.function
            )
            return self._rest_error(gateway_error(500, "Internal Server Error")), f"{route.function} {auth}"
        try:
            answer = worker.request(
                method, path + (f"?{raw_query}" if raw_query else ""), headers, body, context
            )
        except FunctionImportError as exc:
            log.error("%s", exc)
            return self._rest_error(gateway_error(500, "Internal Server Error")), f"{route.function} {auth}"
        except OSError as exc:
            log.error("%s did not answer: %s", route.function, exc)
            return self._rest_error(gateway_error(502, "Internal server error")), f"{route.function} {auth}"
        # The gateway sends its own date and server headers, as API Gateway does.
        answer_headers = [(k, v) for k, v in answer.headers if k not in ("date", "server")]
        if route.streaming:
            return Reply(
                answer.status, answer_headers, chunks=answer.chunks
            ), f"{route.function} {auth} streamed"
        return Reply(answer.status, answer_headers, b"".join(answer.chunks)), f"{route.function} {auth}"

    def _rest_error(self, reply: Reply) -> Reply:
        """REST API's own error with the headers the API's GatewayResponses give it: those of its
        response type (UNAUTHORIZED, ACCESS_DENIED, ...) if set, else DEFAULT_4XX or DEFAULT_5XX."""
        default = "DEFAULT_4XX" if reply.status < 500 else "DEFAULT_5XX"
        kind = GATEWAY_RESPONSE_TYPES.get(reply.status, default)
        extra = self.rest_gateway_responses.get(kind, self.rest_gateway_responses.get(default, []))
        names = {name for name, _ in extra}
        return Reply(reply.status, [h for h in reply.headers if h[0] not in names] + list(extra), reply.body)

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
            self.rest_authorizer,
            self.rest_cache,
            headers,
            lambda identity: rest_authorizer_event(
                method,
                path,
                raw_query,
                headers,
                resource=route.path,
                stage=self.rest_stage,
                path_params=path_params or None,
                source_ip=source_ip,
            ),
            lambda result: isinstance(result.get("policyDocument"), dict),
        )
        if isinstance(verdict, Reply):
            return verdict, how
        # The cached policy is checked against each request's own method ARN, as REST API does.
        method_arn = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{REST_API_ID}/{self.rest_stage}/{method}{path}"
        )
        effect = policy_effect(verdict["policyDocument"], method_arn)
        if effect != "Allow":
            message = "User is not authorized to access this resource" + (
                " with an explicit deny" if effect == "Deny" else ""
            )
            return Reply(
                403, [("content-type", "application/json")], json.dumps({"Message": message}).encode()
            ), f"{how}:denied"
        context = verdict.get("context") if isinstance(verdict.get("context"), dict) else {}
        return {"principalId": str(verdict.get("principalId", "")), **context}, f"{how}:allowed"

    def _call(self, function: str, event: dict[str, Any]) -> Invocation:
        worker = self.workers[function]
        if not isinstance(worker, Function):
            return Invocation(
                error={"errorType": "Local.Unsupported", "errorMessage": f"{function} takes no events"}
            )
        try:
            return worker.invoke(event)
        except FunctionImportError as exc:
            return Invocation(error=exc.payload)

    def _invoke(self, function: str, event: dict[str, Any]) -> Reply:
        outcome = self._call(function, event)
        if outcome.error:
            log.error(
                "%s raised %s: %s",
                function,
                outcome.error.get("errorType"),
                outcome.error.get("errorMessage"),
            )
            for line in outcome.error.get("stackTrace", []):
                log.error("%s", line.rstrip())
            return gateway_error(500, "Internal Server Error")
        return to_reply(outcome.result)

    def _preflight(self, origin: str, headers: dict[str, str]) -> Reply:
        assert self.cors is not None
        if not self.cors.allows(origin):
            # API Gateway answers the preflight but grants nothing, so the browser refuses.
            return Reply(204, [])
        requested = [
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        allowed_headers = self.cors.allow_headers
        granted_headers = (
            requested if "*" in allowed_headers else [h for h in requested if h in allowed_headers]
        )
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
    """ "Deny" if any statement denies ``method_arn``, else "Allow" if one allows it, else None."""
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
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        status = 0
    if not 200 <= status <= 599:
        # Not a status a proxy integration may answer with (1xx, nonsense): a malformed response.
        log.error(
            "the function answered with statusCode %r; API Gateway reports a malformed response as 500",
            result["statusCode"],
        )
        return gateway_error(500, "Internal Server Error")
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return Reply(status, headers, body)


# Pending connections the listening socket holds while the server is busy accepting others.
BACKLOG = 1024
# A function invocation blocks its thread until a sandbox answers; requests beyond this many in
# flight wait for a thread (they are not refused).
GATEWAY_THREADS = 256
# Framing is the server's: these never pass from a function's answer to the client.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
# How long an idle kept-alive connection stays open (API Gateway keeps them longer; clients cope).
KEEP_ALIVE_SECONDS = 30


def has_no_body(method: str, status: int) -> bool:
    """RFC 9110 §6.4.1: responses to HEAD and 1xx, 204 and 304 responses carry no content."""
    return method == "HEAD" or status < 200 or status in (204, 304)


class GatewayApp:
    """The gateway as an ASGI app: a request becomes one ``Gateway.handle`` call in a thread (an
    invocation blocks until a sandbox answers), its reply an HTTP response with the framing its
    status allows, and a line in the log once the response has gone out."""

    def __init__(self, gateway: Gateway, threads: int = GATEWAY_THREADS) -> None:
        self.gateway = gateway
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gateway")

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
        target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        try:
            body = await _read_body(receive, headers)
        except ClientLeft:
            log.info("%s %s: the client left before its request body arrived", method, path)
            return
        close = False
        if body is None:
            reply, served_by, close = gateway_error(413, "Request Entity Too Large"), "too-large", True
        else:
            client = scope.get("client") or ("127.0.0.1", 0)
            try:
                reply, served_by = await asyncio.get_running_loop().run_in_executor(
                    self.executor, self.gateway.handle, method, target, headers, body, client[0]
                )
            except Exception:
                log.exception("the local gateway failed on %s %s", method, path)
                reply, served_by, close = gateway_error(500, "Internal Server Error"), "gateway-failure", True
        try:
            await self._respond(method, reply, close, send, receive)
        finally:
            log.info(
                "%s %s %d %s %.1f ms",
                method,
                path,
                reply.status,
                served_by,
                (time.perf_counter() - started) * 1000,
            )

    async def _respond(
        self, method: str, reply: Reply, close: bool, send: Callable[..., Any], receive: Callable[..., Any]
    ) -> None:
        status = reply.status
        headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers if k not in FRAMING_HEADERS
        ]
        if close:
            headers.append((b"connection", b"close"))
        bodiless = has_no_body(method, status)
        content = reply.body
        if reply.chunks is not None:
            if not bodiless:
                # No length: h11 frames the body chunked (HTTP/1.1), or by closing (HTTP/1.0).
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await _stream(reply.chunks, send, receive)
                return
            # Nothing of a streamed body goes out here; a HEAD still learns the GET's length.
            loop = asyncio.get_running_loop()
            content = (
                b"".join(await loop.run_in_executor(self.executor, list, reply.chunks))
                if method == "HEAD"
                else b""
            )
            await loop.run_in_executor(self.executor, _close, reply.chunks)
        # Content-Length on every response that may have content (a HEAD's is the GET's); never on
        # 1xx or 204 (RFC 9110 §8.6), and none on 304, where it would have to be the 200's.
        if status >= 200 and status not in (204, 304):
            headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if bodiless else content})


class ClientLeft(Exception):
    """The client closed its connection before its request was complete."""


async def _read_body(receive: Callable[..., Any], headers: dict[str, str]) -> bytes | None:
    """The request body, or None when it is over API Gateway's limit (read no further)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientLeft
        body += message.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            return None
        if not message.get("more_body", False):
            return bytes(body)


async def _stream(chunks: Iterator[bytes], send: Callable[..., Any], receive: Callable[..., Any]) -> None:
    """Each chunk to the client as soon as the function wrote it; when the client leaves, the body
    is closed, so the function sees its client go (and its sandbox is free again)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()

    def pump() -> None:
        # Reads block on the function's socket: one thread per stream, never the event loop.
        try:
            for chunk in chunks:
                if chunk:
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except BaseException as exc:  # noqa: BLE001 - the function's connection broke off mid-stream: re-raised in the reader
            loop.call_soon_threadsafe(queue.put_nowait, exc)

    threading.Thread(target=pump, name="gateway-stream", daemon=True).start()
    gone = asyncio.ensure_future(_client_gone(receive))
    try:
        while True:
            following = asyncio.ensure_future(queue.get())
            await asyncio.wait({following, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                return
            item = following.result()
            if item is None:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if isinstance(item, BaseException):
                # Ending the connection without the last chunk tells the client the body is cut short.
                raise StreamBrokenOff(f"the function's stream broke off: {item!r}") from item
            await send({"type": "http.response.body", "body": item, "more_body": True})
    finally:
        gone.cancel()
        await loop.run_in_executor(None, _close, chunks)


async def _client_gone(receive: Callable[..., Any]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        try:
            close()
        except ValueError:  # a generator still running in its pump thread: it ends with the stream
            pass


class StreamBrokenOff(Exception):
    """A streamed body ended with an error, not at its end; the client's connection is cut."""


class GatewayServer:
    """The gateway served by uvicorn in a background thread, on a socket bound before it starts
    (so a taken port fails `make dev` at once, and PORT=0 gets a free one)."""

    def __init__(self, gateway: Gateway, host: str, port: int, backlog: int = BACKLOG) -> None:
        self.app = GatewayApp(gateway)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # Made with IPPROTO_TCP (socket.create_server's says 0): asyncio then sets TCP_NODELAY on
        # every connection it accepts, so no response waits on the client's delayed ACK of an
        # earlier small segment (Nagle's algorithm, 40 ms per kept-alive request).
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(backlog)
        self.server_address = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            self.app,
            http="h11",
            loop="asyncio",
            ws="none",
            lifespan="off",
            backlog=backlog,
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=2,
        )
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="local-api-gateway", daemon=True
        )

    def start(self) -> GatewayServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local gateway did not start; see the log above")
            time.sleep(0.01)
        return self

    def shutdown(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.app.executor.shutdown(wait=False, cancel_futures=True)


def serve(gateway: Gateway, host: str, port: int) -> GatewayServer:
    """A started HTTP server (in a background thread) that answers with ``gateway``."""
    return GatewayServer(gateway, host, port).start()
