"""Runs a function's handler as Lambda would: its own environment, its code and layers on the path.

``FunctionWorker`` is one warm sandbox: a child process that imports the handler once and serves
one invocation at a time, so every function keeps its own environment and module state, as it
does in Lambda. ``WebAppWorker`` is the same for a function run through the Lambda Web Adapter:
its web app in a child process, requests proxied to it and streamed back. ``FunctionPool`` and
``WebAppPool`` keep a function's warm sandboxes and add one when every sandbox is busy, up to a
cap, as Lambda scales a function with its concurrent invocations. ``load_handler`` runs a
handler inside the current process, for `make invoke`, the benchmark probes and the tests.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import http.client
import importlib.util
import json
import logging
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlencode

from local.template import ACCOUNT_ID, FunctionSpec

log = logging.getLogger("local.emulator.runtime")

# The host variables a function may see besides its own: what a Python process needs to run.
HOST_VARIABLES = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "VIRTUAL_ENV",
)


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, spec: FunctionSpec, region: str) -> None:
        self.function_name = spec.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{spec.logical_id}"
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_environment(spec: FunctionSpec, aws: dict[str, str], region: str) -> dict[str, str]:
    """Exactly what the function sees: its template variables, Lambda's own, and the local AWS."""
    host = {name: os.environ[name] for name in HOST_VARIABLES if name in os.environ}
    return {
        **host,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        # No X-Ray daemon here (nor in SAM CLI's emulator, where Powertools turns tracing off too):
        # traced code runs, but sends no segments.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "_HANDLER": spec.handler,
        **aws,
        **spec.environment,
    }


def load_handler(
    spec: FunctionSpec, loop: asyncio.AbstractEventLoop | None = None
) -> Callable[[dict[str, Any], Any], Any]:
    """Import the handler module from the function's folder, with its layers on ``sys.path``;
    ``loop`` is the event loop a web app's events run on (a new one by default)."""
    if spec.web_adapter:
        return web_adapter_handler(spec, loop)
    module_name, function_name = spec.handler.rsplit(".", 1)
    return getattr(_import(spec, module_name), function_name)


def _import(spec: FunctionSpec, module_name: str) -> Any:
    for directory in (spec.code_dir, *spec.layer_dirs):
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    path = Path(spec.code_dir, *module_name.split(".")).with_suffix(".py")
    unique = f"lambda_{spec.logical_id}_{module_name.replace('.', '_')}"
    module_spec = importlib.util.spec_from_file_location(unique, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {spec.handler} from {spec.code_dir}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[unique] = module
    module_spec.loader.exec_module(module)
    return module


def web_adapter_handler(
    spec: FunctionSpec, loop: asyncio.AbstractEventLoop | None = None
) -> Callable[[dict[str, Any], Any], Any]:
    """A Lambda Web Adapter function as one handler, in this process (for `make invoke` and tests).

    The ASGI app is the one the handler script starts (``uvicorn <module>:<app>``); each event is
    turned into the HTTP request it stands for, with ``x-amzn-request-context`` as the adapter
    sets it, and the whole response comes back as ``{"statusCode", "headers", "body"}``.
    """
    script = (spec.code_dir / spec.handler).read_text()
    target = re.search(r"uvicorn\s+([\w.]+):(\w+)", script)
    if target is None:
        raise ImportError(f"{spec.handler} of {spec.logical_id} does not start `uvicorn <module>:<app>`")
    app = getattr(_import(spec, target.group(1)), target.group(2))
    running = loop or asyncio.new_event_loop()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return running.run_until_complete(_call_asgi(app, event))

    return handler


async def _call_asgi(app: Any, event: dict[str, Any]) -> dict[str, Any]:
    http = (event.get("requestContext") or {}).get("http") or {}
    method = event.get("httpMethod") or http.get("method", "GET")
    path = event.get("path") or event.get("rawPath") or "/"
    query = event.get("rawQueryString") or urlencode(
        event.get("multiValueQueryStringParameters") or {}, doseq=True
    )
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = [(str(k).lower().encode(), str(v).encode()) for k, v in (event.get("headers") or {}).items()]
    headers = [h for h in headers if h[0] != b"x-amzn-request-context"]
    headers.append((b"x-amzn-request-context", json.dumps(event.get("requestContext") or {}).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 8080),
        "root_path": "",
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await done.wait()  # as a server does: the client is there until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    result: dict[str, Any] = {
        "statusCode": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start.get("headers", [])},
    }
    try:
        result["body"], result["isBase64Encoded"] = content.decode(), False
    except UnicodeDecodeError:
        result["body"], result["isBase64Encoded"] = base64.b64encode(content).decode(), True
    return result


class MarshalError(Exception):
    """The handler's result cannot be sent back: Lambda's ``Runtime.MarshalError``."""

    error_type = "Runtime.MarshalError"


def marshal_response(result: Any) -> bytes:
    """The handler's result as Lambda's Python 3.12+ runtime sends it: JSON with non-ASCII text
    as it is (``ensure_ascii=False``), encoded as UTF-8. A string holding a lone surrogate
    cannot be, and Lambda then fails the invocation instead of answering."""
    try:
        return json.dumps(result, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise MarshalError(f"Unable to marshal response: {exc}") from exc


def error_payload(exc: BaseException) -> dict[str, Any]:
    """How Lambda reports an unhandled exception."""
    return {
        "errorType": getattr(exc, "error_type", type(exc).__name__),
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


@dataclass(frozen=True)
class Invocation:
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0


def _serve(connection: Connection, spec: FunctionSpec, environment: dict[str, str], region: str) -> None:
    """The worker process: become the function's sandbox, import once, answer invocations."""
    # Ctrl-C reaches the whole process group; the parent stops the workers in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(environment)
    try:
        handler = load_handler(spec)
        if spec.snap_start and not spec.web_adapter:
            run_snapshot_hooks()
        connection.send(("ready", None))
    except BaseException as exc:  # noqa: BLE001 - an import failure is Lambda's Runtime.ImportModuleError
        connection.send(("import-error", error_payload(exc)))
        return
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            result = handler(event, LambdaContext(spec, region))
            marshal_response(result)
            connection.send(("ok", (result, (time.perf_counter() - started) * 1000)))
        except BaseException as exc:  # noqa: BLE001 - any handler failure goes back to the caller, as Lambda reports it
            connection.send(("error", (error_payload(exc), (time.perf_counter() - started) * 1000)))


def run_snapshot_hooks() -> None:
    """What Lambda's Python runtime does for a SnapStart version: the before-snapshot hooks at
    publish time, the after-restore hooks in every sandbox resumed from the snapshot. Locally a
    sandbox is its own snapshot: it runs both, in the runtime's order, right after its init."""
    import snapshot_restore_py

    for hook, args, kwargs in reversed(snapshot_restore_py.get_before_snapshot()):
        hook(*args, **kwargs)
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():
        hook(*args, **kwargs)


class FunctionWorker:
    """One warm sandbox of a function: a process that serves one invocation at a time.

    The process starts on the first invocation; a timed-out or crashed one is ended and the next
    invocation starts a fresh one, as Lambda replaces a sandbox.
    """

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], region: str) -> None:
        self.spec = spec
        self._environment = environment
        self._region = region
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, self.spec, self._environment, self._region),
            daemon=True,
            name=f"lambda-{self.spec.logical_id}",
        )
        self._process.start()
        child.close()
        try:
            status, payload = parent.recv()
        except EOFError:
            status, payload = (
                "exit",
                {"errorType": "Runtime.ExitError", "errorMessage": "the function process exited during init"},
            )
        if status != "ready":
            self._process.join(timeout=1)
            self._process = None
            raise FunctionImportError(self.spec.logical_id, payload)
        self._connection = parent
        return parent

    def invoke(self, event: dict[str, Any]) -> Invocation:
        with self._lock:
            connection = self._connection if self._process and self._process.is_alive() else self._start()
            connection.send(event)
            if not connection.poll(self.spec.timeout):
                # Lambda ends a timed-out sandbox; the next request gets a fresh one.
                self.stop()
                return Invocation(
                    error={
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {self.spec.timeout} s",
                    },
                    duration_ms=self.spec.timeout * 1000.0,
                )
            try:
                status, (payload, duration) = connection.recv()
            except EOFError:
                self.stop()
                return Invocation(
                    error={"errorType": "Runtime.ExitError", "errorMessage": "the function process exited"}
                )
        if status == "ok":
            return Invocation(result=payload, duration_ms=duration)
        return Invocation(error=payload, duration_ms=duration)

    def stop(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=2)
        self._process, self._connection = None, None


class FunctionImportError(Exception):
    def __init__(self, logical_id: str, payload: dict[str, Any]) -> None:
        super().__init__(f"{logical_id} failed to import: {payload['errorType']}: {payload['errorMessage']}")
        self.payload = payload


@dataclass
class WebResponse:
    """The web app's answer: status and headers at once, the body as it comes.

    ``chunks`` may end early: closing it (``close()``) ends the request and frees the sandbox.
    """

    status: int
    headers: list[tuple[str, str]]
    chunks: Iterator[bytes]


class Body(Iterator[bytes]):
    """A response body read from the web app as it comes; closed at its end, or early (the client
    left), which closes the connection to the app (the app sees its client go) and calls ``on_close``
    once. Another thread may close it while one is waiting for the next chunk."""

    def __init__(
        self,
        connection: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        on_close: Callable[[], None],
    ) -> None:
        self._connection = connection
        self._response = response
        self._on_close = on_close
        self._closed = False
        self._lock = threading.Lock()

    def __next__(self) -> bytes:
        if not self._closed:
            try:
                chunk = self._response.read1(65536)
            except (OSError, ValueError, http.client.HTTPException):
                if not self._closed:
                    self.close()
                    raise
                chunk = b""
            if chunk:
                return chunk
        self.close()
        raise StopIteration

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked on the next chunk
            except OSError:
                pass
        self._connection.close()
        self._on_close()


class WebAppWorker:
    """One warm sandbox of a function run through the Lambda Web Adapter.

    As the adapter does in Lambda: run the handler script (which starts the web app on
    AWS_LWA_PORT), wait until the readiness path answers below 500, then forward each request
    over HTTP with the API Gateway request context in ``x-amzn-request-context``, handing the
    response body on chunk by chunk (``response_stream``). One request at a time: its pool
    (``WebAppPool``) hands a sandbox to one request until that request's body is closed.
    """

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], region: str) -> None:
        self.spec = spec
        self._environment = environment
        self._region = region
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0

    def _start(self) -> None:
        port = free_port()
        python_dir = str(Path(sys.executable).parent)
        environment = {
            **self._environment,
            "AWS_LWA_PORT": str(port),
            # The venv's python first, as the runtime's is on Lambda; layers where /opt/python would be.
            "PATH": os.pathsep.join([python_dir, self._environment.get("PATH", "")]),
            "PYTHONPATH": os.pathsep.join(str(d) for d in self.spec.layer_dirs),
        }
        script = self.spec.code_dir / self.spec.handler
        # Its own session: Ctrl-C on `make dev` reaches the stack, which then stops the app in order.
        self._process = subprocess.Popen(
            ["/bin/sh", str(script)],
            cwd=self.spec.code_dir,
            env=environment,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        readiness = self._environment.get("AWS_LWA_READINESS_CHECK_PATH", "/")
        deadline = time.monotonic() + INIT_TIMEOUT_SECONDS
        while True:
            if self._process.poll() is not None:
                stderr = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                self._process = None
                raise FunctionImportError(
                    self.spec.logical_id,
                    {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"the web app exited during start-up:\n{stderr[-3000:]}",
                    },
                )
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("GET", readiness)
                status = connection.getresponse().status
                connection.close()
                if status < 500:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise FunctionImportError(
                    self.spec.logical_id,
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"the web app was not ready on {readiness} in {INIT_TIMEOUT_SECONDS} s",
                    },
                )
            time.sleep(0.02)
        # The app's log goes where the stack's goes; drained so a chatty app never blocks on it.
        threading.Thread(target=_drain, args=(self._process.stderr,), daemon=True).start()
        self._port = port
        if self.spec.snap_start:
            self._snapshot_hooks()

    def _snapshot_hooks(self) -> None:
        """As the adapter does for a SnapStart version: POST the before-checkpoint path, then (the
        sandbox resumed) the after-restore path; a non-2xx answer fails the sandbox's start."""
        for variable in ("AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH", "AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH"):
            path = self._environment.get(variable)
            if not path:
                continue
            connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=60)
            try:
                connection.request("POST", path, body=b"", headers={"content-length": "0"})
                response = connection.getresponse()
                detail = response.read()[:300].decode(errors="replace")
            finally:
                connection.close()
            if not 200 <= response.status < 300:
                self.stop()
                raise FunctionImportError(
                    self.spec.logical_id,
                    {
                        "errorType": "Runtime.SnapStartHookError",
                        "errorMessage": f"{variable} {path} answered {response.status}: {detail}",
                    },
                )

    def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        request_context: dict[str, Any],
        on_close: Callable[[], None] = lambda: None,
    ) -> WebResponse:
        """Forward one request; ``on_close`` runs once the returned body is read or closed."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        forwarded = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
        # The adapter sets this header from the event, replacing any a client sent.
        forwarded["x-amzn-request-context"] = json.dumps(request_context, separators=(",", ":"))
        # And Lambda's context, as the adapter does (no X-Ray trace locally).
        forwarded["x-amzn-lambda-context"] = json.dumps(
            {
                "request_id": str(uuid.uuid4()),
                "deadline": int((time.time() + self.spec.timeout) * 1000),
                "invoked_function_arn": f"arn:aws:lambda:{self._region}:{ACCOUNT_ID}:function:{self.spec.logical_id}",
            },
            separators=(",", ":"),
        )
        forwarded["content-length"] = str(len(body))
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=self.spec.timeout)
        try:
            connection.request(method, target, body=body, headers=forwarded)
            response = connection.getresponse()
        except BaseException:
            connection.close()
            raise
        return WebResponse(
            response.status,
            [(k.lower(), v) for k, v in response.getheaders()],
            Body(connection, response, on_close),
        )

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            stop(self._process, timeout=5)
        self._process = None


# Lambda's init phase is bounded (10 s, or the function timeout with the adapter); importing
# chatkit, agents and openai on a loaded laptop can take several seconds.
INIT_TIMEOUT_SECONDS = 30
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "host",
        "content-length",
        "x-amzn-request-context",
    }
)

# Sandboxes per function unless LOCAL_FUNCTION_CONCURRENCY says otherwise. Lambda's own limit is
# the account's (1,000 by default); on a laptop each sandbox is a Python process of 50-200 MB.
DEFAULT_CONCURRENCY = 8


def concurrency_limit(environ: dict[str, str] | None = None) -> int:
    """The most sandboxes one function may have at once: LOCAL_FUNCTION_CONCURRENCY, default 8."""
    raw = (os.environ if environ is None else environ).get("LOCAL_FUNCTION_CONCURRENCY", "")
    if not raw:
        return DEFAULT_CONCURRENCY
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"LOCAL_FUNCTION_CONCURRENCY must be a whole number of at least 1, got {raw!r}")
    return int(raw)


@runtime_checkable
class Function(Protocol):
    """What the gateway invokes: a function that answers one event."""

    def invoke(self, event: dict[str, Any]) -> Invocation: ...


@runtime_checkable
class WebApp(Protocol):
    """What the gateway forwards REST API requests to: a function behind the Lambda Web Adapter."""

    def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes, request_context: dict[str, Any]
    ) -> WebResponse: ...


W = TypeVar("W", FunctionWorker, WebAppWorker)


class WorkerPool(Generic[W]):
    """A function's sandboxes, as Lambda keeps them: a request takes an idle warm one; when all
    are busy a new one starts (that request pays its cold start, the others go on) up to ``limit``,
    beyond which requests wait, first come first served, for a sandbox to come free. A sandbox
    that timed out or crashed starts afresh on its next request; the others are untouched."""

    def __init__(self, name: str, new_worker: Callable[[], W], limit: int) -> None:
        self.name = name
        self.limit = limit
        self._new_worker = new_worker
        self._idle: list[W] = []
        self._all: list[W] = []
        self._waiting: collections.deque[_Waiter[W]] = collections.deque()
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def size(self) -> int:
        """How many sandboxes the function has (busy or idle)."""
        with self._lock:
            return len(self._all)

    @property
    def waiting(self) -> int:
        """How many requests wait for a sandbox to come free."""
        with self._lock:
            return len(self._waiting)

    def acquire(self) -> W:
        with self._lock:
            if self._stopped:
                raise RuntimeError(f"{self.name}: the local stack is stopping")
            if self._idle:
                # The most recently used sandbox first: the others may go cold, as in Lambda.
                return self._idle.pop()
            if len(self._all) < self.limit:
                worker = self._new_worker()
                self._all.append(worker)
                if len(self._all) > 1:
                    log.info(
                        "%s: %d sandboxes busy, starting another (limit %d)",
                        self.name,
                        len(self._all) - 1,
                        self.limit,
                    )
                # Started by its first request, outside this lock: the warm ones keep serving.
                return worker
            waiter: _Waiter[W] = _Waiter()
            self._waiting.append(waiter)
        waiter.handed.wait()
        if waiter.worker is None:
            raise RuntimeError(f"{self.name}: the local stack is stopping")
        return waiter.worker

    def release(self, worker: W) -> None:
        with self._lock:
            if self._stopped:
                return
            if self._waiting:
                # Straight to the longest waiting request: a newcomer never takes it first.
                waiter = self._waiting.popleft()
                waiter.worker = worker
                waiter.handed.set()
                return
            self._idle.append(worker)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            workers, self._all, self._idle = self._all, [], []
            waiting, self._waiting = self._waiting, collections.deque()
        for waiter in waiting:
            waiter.handed.set()
        for worker in workers:
            worker.stop()


class _Waiter(Generic[W]):
    """A request waiting for a sandbox: set when one is handed to it (or the pool stops)."""

    def __init__(self) -> None:
        self.handed = threading.Event()
        self.worker: W | None = None


class FunctionPool(WorkerPool[FunctionWorker]):
    """The sandboxes of a function invoked with events (HTTP API routes, authorizers)."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], region: str, limit: int) -> None:
        super().__init__(spec.logical_id, lambda: FunctionWorker(spec, environment, region), limit)
        self.spec = spec

    def invoke(self, event: dict[str, Any]) -> Invocation:
        worker = self.acquire()
        try:
            return worker.invoke(event)
        finally:
            self.release(worker)


class WebAppPool(WorkerPool[WebAppWorker]):
    """The sandboxes of a function behind the Lambda Web Adapter; a request holds its sandbox
    until its response body has been read or closed."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], region: str, limit: int) -> None:
        super().__init__(spec.logical_id, lambda: WebAppWorker(spec, environment, region), limit)
        self.spec = spec

    def invoke(self, event: dict[str, Any]) -> Invocation:
        return Invocation(
            error={
                "errorType": "Local.Unsupported",
                "errorMessage": f"{self.name} runs behind the Lambda Web Adapter; the local stack serves it on REST API routes only",
            }
        )

    def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes, request_context: dict[str, Any]
    ) -> WebResponse:
        worker = self.acquire()
        try:
            return worker.request(
                method, target, headers, body, request_context, on_close=lambda: self.release(worker)
            )
        except BaseException:
            self.release(worker)
            raise


def stop(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Ask a child process to stop (SIGTERM), and kill it if it has not within ``timeout`` s."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _drain(stream: Any) -> None:
    for line in iter(stream.readline, b""):
        sys.stderr.write(line.decode(errors="replace"))
