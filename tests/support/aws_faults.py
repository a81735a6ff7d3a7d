"""AWS that fails on demand, without touching the code under test.

Two ways in, one vocabulary of faults (``Fault``):

- ``Outage(service, fault)``: in-process, for function tests on moto's ``mock_aws``. It
  stubs botocore's transport: a ``before-send`` handler on the container's own clients
  (``chatkit_backend.aws.clients.client``) turns each request away from moto and answers or raises as a
  dead or broken endpoint would. botocore then does what it does in AWS: retries, then gives up.
- ``FaultyAws``: a loopback HTTP proxy in front of a moto server, for the local stack
  (``make dev`` with ``AWS_ENDPOINT_URL`` pointing at it). It passes requests through until a
  fault is set for a service, then answers 500, throttles, drops the connection or hangs.

Faults: ``"error"`` (HTTP 500 InternalServerError), ``"throttled"`` (HTTP 400
ThrottlingException), ``"unreachable"`` (no connection / the connection drops), ``"hang"`` (the
request is accepted and never answered: a read timeout).
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from io import BytesIO
from typing import Any, Literal, Self

from local.standins.loopback import serve

Fault = Literal["error", "throttled", "unreachable", "hang"]
FAULTS: tuple[Fault, ...] = ("error", "throttled", "unreachable", "hang")

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")


def _error_body(service: str, status: int) -> tuple[bytes, dict[str, str]]:
    code = "ThrottlingException" if status == 400 else "InternalServerError"
    body = json.dumps({"__type": code, "message": f"{service} is failing on purpose ({code})"}).encode()
    return body, {"content-type": "application/x-amz-json-1.0", "x-amzn-errortype": code}


# ---- in-process: botocore's transport, stubbed ---------------------------------------------------


class _RawBody(BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read():
            yield chunk


class Outage:
    """Every request of the container's ``service`` clients (or only its ``operation``, e.g.
    "PutItem") fails with ``fault`` while started.

    ``attempts`` counts the operations tried (botocore's retries included). A context manager,
    or ``start()``/``stop()`` for a fault that begins mid-request (from the model stand-in, say).
    """

    def __init__(self, service: str, fault: Fault = "error", operation: str | None = None) -> None:
        self.service = service
        self.fault = fault
        self.operation = operation
        self.attempts: Counter[str] = Counter()
        self._clients: list[Any] = []

    def _fail(self, request: Any, **kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

        self.attempts[str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]] += 1
        # Sent to a broken endpoint instead: moto (the next before-send handler) leaves a request
        # for a host it does not serve alone, so nothing reaches the tables.
        request.url = "http://aws-outage.invalid/"
        if self.fault == "unreachable":
            raise EndpointConnectionError(endpoint_url=request.url)
        if self.fault == "hang":
            raise ReadTimeoutError(endpoint_url=request.url)
        status = 400 if self.fault == "throttled" else 500
        body, headers = _error_body(self.service, status)
        return AWSResponse(request.url, status, headers, _RawBody(body))

    def _event(self, client: Any) -> str:
        event = f"before-send.{client.meta.service_model.service_id.hyphenize()}"
        return f"{event}.{self.operation}" if self.operation else event

    def start(self) -> Self:
        from chatkit_backend.aws.clients import client

        self._clients = [client(self.service), client(self.service, fail_fast=True)]
        for each in self._clients:
            each.meta.events.register_first(self._event(each), self._fail)
        return self

    def stop(self) -> None:
        for each in self._clients:
            each.meta.events.unregister(self._event(each), self._fail)
        self._clients = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- over HTTP: a proxy in front of moto -----------------------------------------------------------


@dataclass
class FaultyAws:
    """A proxy to ``upstream`` (a moto server) that fails on demand, per service."""

    upstream: str
    url: str = ""
    faults: dict[str, Fault] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)
    released: threading.Event = field(default_factory=threading.Event)

    def start(self, service: str, fault: Fault = "error") -> None:
        """``service`` ("dynamodb", "secretsmanager", "s3") fails with ``fault`` from now on."""
        self.released.clear()
        self.faults[service] = fault

    def stop(self, service: str) -> None:
        """``service`` answers again; requests left hanging are let go (their callers gave up long ago)."""
        self.faults.pop(service, None)
        self.released.set()

    @contextmanager
    def outage(self, service: str, fault: Fault = "error") -> Iterator[None]:
        self.start(service, fault)
        try:
            yield
        finally:
            self.stop(service)


def _service(headers: Any) -> str:
    match = _SCOPE.search(headers.get("authorization", ""))
    return match.group(1) if match else "unknown"


@contextmanager
def faulty_aws(upstream: str) -> Iterator[FaultyAws]:
    """A started ``FaultyAws`` on a free loopback port; point ``AWS_ENDPOINT_URL`` at ``.url``."""
    state = FaultyAws(upstream=upstream.rstrip("/"))
    target = urllib.parse.urlsplit(state.upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            service = _service(self.headers)
            state.seen[service] += 1
            fault = state.faults.get(service)
            if fault == "unreachable":
                self.close_connection = True
                return  # no status line at all: botocore reads a dropped connection
            if fault == "hang":
                state.released.wait(120)
                self.close_connection = True
                return
            if fault in ("error", "throttled"):
                status = 400 if fault == "throttled" else 500
                payload, headers = _error_body(service, status)
                self._answer(status, headers, payload)
                return
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request(self.command, self.path, body=body, headers=forwarded)
                response = connection.getresponse()
                payload = response.read()
                hop_by_hop = ("transfer-encoding", "connection", "content-length")
                headers = {k: v for k, v in response.getheaders() if k.lower() not in hop_by_hop}
                self._answer(response.status, headers, payload)
            finally:
                connection.close()

        def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    with serve(Handler) as url:
        state.url = url
        try:
            yield state
        finally:
            state.released.set()
