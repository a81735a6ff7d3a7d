"""The local gateway on the wire: HTTP/1.1 framing a strict client (h11) accepts, on kept-alive
connections, for every kind of answer a function or the gateway itself gives."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import h11
import pytest

from local.emulator.gateway import Gateway, GatewayServer, serve
from local.emulator.runtime import Invocation, WebResponse
from local.template import CorsSpec, Route

ORIGIN = "http://localhost:5173"
CORS = CorsSpec((ORIGIN,), ("GET", "POST"), ("authorization", "content-type"), (), 600, False)
# What the scripted function answers on each path.
ANSWERS: dict[str, Any] = {
    "/ok": {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok":true}'},
    "/no-content": {
        "statusCode": 204,
        "headers": {"content-length": "7", "transfer-encoding": "chunked"},
        "body": "ignored",
    },
    "/not-modified": {"statusCode": 304, "headers": {"etag": '"v1"'}, "body": "ignored"},
    "/informational": {"statusCode": 100, "body": ""},
}


class Function:
    def invoke(self, event: dict[str, Any]) -> Invocation:
        return Invocation(result=ANSWERS[event["rawPath"]])


class StreamingApp:
    """A web app behind the adapter: 204 to a preflight, an event stream to a POST."""

    def __init__(self) -> None:
        self.closed = 0

    def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes, request_context: dict[str, Any]
    ) -> WebResponse:
        if method == "OPTIONS":
            return WebResponse(204, [("access-control-allow-origin", ORIGIN)], self._chunks([]))
        return WebResponse(
            200, [("content-type", "text/event-stream")], self._chunks([b"data: one\n\n", b"data: two\n\n"])
        )

    def _chunks(self, parts: list[bytes]) -> Iterator[bytes]:
        try:
            yield from parts
        finally:
            self.closed += 1


@pytest.fixture(scope="module")
def server() -> Iterator[GatewayServer]:
    routes = [Route("GET", path, "Fn", authorized=False) for path in ANSWERS] + [
        Route("POST", "/stream", "App", authorized=False, api="rest", streaming=True),
        Route("OPTIONS", "/stream", "App", authorized=False, api="rest", streaming=True),
    ]
    running = serve(Gateway(routes, {"Fn": Function(), "App": StreamingApp()}, None, CORS), "127.0.0.1", 0)
    yield running
    running.shutdown()


class Client:
    """One kept-alive connection, read with h11: any framing error raises."""

    def __init__(self, server: GatewayServer) -> None:
        self.socket = socket.create_connection(server.server_address, timeout=10)
        self.http = h11.Connection(h11.CLIENT)

    def send(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[h11.Response, dict[str, str], bytes]:
        if self.http.our_state is h11.DONE:
            self.http.start_next_cycle()
        fields = [("host", "gateway"), *((headers or {}).items())]
        if body or method in ("POST", "PUT"):
            fields.append(("content-length", str(len(body))))
        out = self.http.send(h11.Request(method=method, target=target, headers=fields))
        out += self.http.send(h11.Data(data=body)) if body else b""
        out += self.http.send(h11.EndOfMessage())
        self.socket.sendall(out)
        response, content = None, b""
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                self.http.receive_data(self.socket.recv(65536))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                return response, {k.decode(): v.decode() for k, v in response.headers}, content

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def client(server: GatewayServer) -> Iterator[Client]:
    connected = Client(server)
    yield connected
    connected.close()


def test_a_preflight_then_the_request_on_one_connection(client: Client) -> None:
    preflight, headers, content = client.send(
        "OPTIONS", "/ok", {"origin": ORIGIN, "access-control-request-method": "GET"}
    )
    assert (preflight.status_code, content) == (204, b"")
    assert "content-length" not in headers and "transfer-encoding" not in headers
    assert client.http.trailing_data == (b"", False)

    answer, headers, content = client.send("GET", "/ok", {"origin": ORIGIN})
    assert (answer.status_code, json.loads(content)) == (200, {"ok": True})


def test_a_streamed_route_answers_its_preflight_without_a_body_then_streams_chunked(client: Client) -> None:
    preflight, headers, content = client.send(
        "OPTIONS", "/stream", {"origin": ORIGIN, "access-control-request-method": "POST"}
    )
    assert (preflight.status_code, content) == (204, b"")
    assert "transfer-encoding" not in headers and "content-length" not in headers

    streamed, headers, content = client.send("POST", "/stream", {"origin": ORIGIN}, b"{}")
    assert streamed.status_code == 200
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert content == b"data: one\n\ndata: two\n\n"


@pytest.mark.parametrize(
    ("method", "path", "status", "length"),
    [
        ("GET", "/ok", 200, "11"),
        ("HEAD", "/ok", 404, "24"),  # no HEAD route: API Gateway's 404, without its body
        ("GET", "/no-content", 204, None),
        ("GET", "/not-modified", 304, None),
        ("GET", "/nowhere", 404, "24"),
        ("GET", "/informational", 500, "36"),  # not a status a function may answer with
    ],
)
def test_every_answer_is_framed_by_its_status_and_method(
    client: Client, method: str, path: str, status: int, length: str | None
) -> None:
    for _ in range(2):  # and the connection is good for the next request
        answer, headers, content = client.send(method, path)
        assert answer.status_code == status
        assert headers.get("content-length") == length
        assert "transfer-encoding" not in headers
        expected = b"" if method == "HEAD" or status in (204, 304) else content
        assert content == expected and len(content) == (int(length) if length and method != "HEAD" else 0)


def test_a_body_over_the_limit_is_refused_and_the_connection_closed(server: GatewayServer) -> None:
    with socket.create_connection(server.server_address, timeout=10) as raw:
        raw.sendall(b"POST /ok HTTP/1.1\r\nhost: gateway\r\ncontent-length: 20000000\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"connection: close" in head.lower()
    assert json.loads(body) == {"message": "Request Entity Too Large"}


def test_responses_leave_without_nagle_delay(client: Client, server: GatewayServer) -> None:
    client.send("GET", "/ok")
    [connection] = [c for c in server._server.server_state.connections]
    assert connection.transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
