"""Runs a function's handler as Lambda would: its own environment, its code and layers on the path.

``FunctionWorker`` is one warm "container": a child process that imports the handler once and
serves invocations in order, so every function keeps its own environment and module state, as
it does in Lambda. ``load_handler`` does the same inside the current process, for
`make invoke`, the benchmark probes and the tests.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

from local.template import ACCOUNT_ID, FunctionSpec

# The host variables a function may see besides its own: what a Python process needs to run.
HOST_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "VIRTUAL_ENV")


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
        "_HANDLER": spec.handler,
        **aws,
        **spec.environment,
    }


def load_handler(spec: FunctionSpec) -> Callable[[dict[str, Any], Any], Any]:
    """Import the handler module from the function's folder, with its layers on ``sys.path``."""
    module_name, function_name = spec.handler.rsplit(".", 1)
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
    return getattr(module, function_name)


def error_payload(exc: BaseException) -> dict[str, Any]:
    """How Lambda reports an unhandled exception."""
    return {
        "errorType": type(exc).__name__,
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
        connection.send(("ready", None))
    except BaseException as exc:  # an import failure is Lambda's Runtime.ImportModuleError
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
            connection.send(("ok", (result, (time.perf_counter() - started) * 1000)))
        except BaseException as exc:
            connection.send(("error", (error_payload(exc), (time.perf_counter() - started) * 1000)))


class FunctionWorker:
    """One warm container of a function; invocations are served one at a time, as Lambda does."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], region: str) -> None:
        self.spec = spec
        self._environment = environment
        self._region = region
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None
        self.import_error: dict[str, Any] | None = None

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, self.spec, self._environment, self._region), daemon=True,
            name=f"lambda-{self.spec.logical_id}",
        )
        self._process.start()
        child.close()
        status, payload = parent.recv()
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
                    error={"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {self.spec.timeout} s"},
                    duration_ms=self.spec.timeout * 1000.0,
                )
            try:
                status, (payload, duration) = connection.recv()
            except EOFError:
                self.stop()
                return Invocation(error={"errorType": "Runtime.ExitError", "errorMessage": "the function process exited"})
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
