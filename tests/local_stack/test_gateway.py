"""The local gateway behaves as API Gateway HTTP API does in front of the functions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.emulator.gateway import Gateway, to_reply
from local.emulator.runtime import Invocation
from local.template import AuthorizerSpec, CorsSpec, Route


class RecordingWorker:
    """Stands in for a function worker: records events and answers what the test scripts."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        if isinstance(self.answer, Exception):
            return Invocation(
                error={"errorType": type(self.answer).__name__, "errorMessage": str(self.answer)}
            )
        return Invocation(result=self.answer(event) if callable(self.answer) else self.answer)


def allow(event: dict[str, Any]) -> dict[str, Any]:
    token = event["identitySource"][0]
    return {"isAuthorized": token == "Bearer good", "context": {"user_id": "alice", "token_use": "user"}}


ROUTES = [
    Route("GET", "/health", "Health", authorized=False),
    Route("GET", "/api/chatkit/threads", "Threads", authorized=True),
    Route("PUT", "/api/chatkit/threads/{thread_id}", "Threads", authorized=True),
]
CORS = CorsSpec(
    allow_origins=("http://localhost:3000",),
    allow_methods=("GET", "POST"),
    allow_headers=("authorization", "content-type"),
    expose_headers=("retry-after",),
    max_age=600,
    allow_credentials=False,
)


@pytest.fixture
def workers() -> dict[str, RecordingWorker]:
    echo = lambda event: {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(event),
    }
    return {"Health": RecordingWorker(echo), "Threads": RecordingWorker(echo), "Auth": RecordingWorker(allow)}


@pytest.fixture
def gateway(workers: dict[str, RecordingWorker]) -> Gateway:
    authorizer = AuthorizerSpec(
        "Jwt", "Auth", ("authorization",), reauthorize_every=60, simple_responses=True, payload_version="2.0"
    )
    return Gateway(ROUTES, workers, authorizer, CORS)  # type: ignore[arg-type]


def call(
    gateway: Gateway, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
):
    reply, served_by = gateway.handle(method, target, headers or {}, body, "127.0.0.1")
    return reply, served_by, dict(reply.headers)


def test_public_route_skips_the_authorizer(gateway: Gateway, workers: dict[str, RecordingWorker]) -> None:
    reply, served_by, _ = call(gateway, "GET", "/health")
    assert reply.status == 200
    assert workers["Auth"].events == []
    assert "authorizer" not in json.loads(reply.body)["requestContext"]
    assert served_by == "Health auth=none"


def test_missing_identity_is_401_without_calling_the_authorizer(
    gateway: Gateway, workers: dict[str, RecordingWorker]
) -> None:
    reply, _, _ = call(gateway, "GET", "/api/chatkit/threads")
    assert (reply.status, json.loads(reply.body)) == (401, {"message": "Unauthorized"})
    assert workers["Auth"].events == [] and workers["Threads"].events == []


def test_denied_token_is_403_and_the_function_never_runs(
    gateway: Gateway, workers: dict[str, RecordingWorker]
) -> None:
    reply, _, _ = call(gateway, "GET", "/api/chatkit/threads", {"authorization": "Bearer forged"})
    assert (reply.status, json.loads(reply.body)) == (403, {"message": "Forbidden"})
    assert workers["Threads"].events == []


def test_allowed_token_passes_context_and_path_parameters(
    gateway: Gateway, workers: dict[str, RecordingWorker]
) -> None:
    reply, _, _ = call(
        gateway,
        "PUT",
        "/api/chatkit/threads/cthr_1?x=1&x=2",
        {"authorization": "Bearer good"},
        b'{"title":"t"}',
    )
    event = json.loads(reply.body)
    assert reply.status == 200
    assert event["requestContext"]["authorizer"] == {"lambda": {"user_id": "alice", "token_use": "user"}}
    assert event["pathParameters"] == {"thread_id": "cthr_1"}
    assert event["routeKey"] == "PUT /api/chatkit/threads/{thread_id}"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["body"] == '{"title":"t"}' and event["isBase64Encoded"] is False
    authorizer_event = workers["Auth"].events[0]
    assert authorizer_event["type"] == "REQUEST" and authorizer_event["version"] == "2.0"
    assert authorizer_event["identitySource"] == ["Bearer good"]


def test_verdicts_are_cached_per_identity(gateway: Gateway, workers: dict[str, RecordingWorker]) -> None:
    for _ in range(3):
        call(gateway, "GET", "/api/chatkit/threads", {"authorization": "Bearer good"})
    call(gateway, "GET", "/api/chatkit/threads", {"authorization": "Bearer forged"})
    _, served_by, _ = call(gateway, "GET", "/api/chatkit/threads", {"authorization": "Bearer forged"})
    assert [e["identitySource"] for e in workers["Auth"].events] == [["Bearer good"], ["Bearer forged"]]
    assert served_by == "Threads auth=cached:denied"


def test_authorizer_failure_is_a_gateway_500(gateway: Gateway, workers: dict[str, RecordingWorker]) -> None:
    workers["Auth"].answer = RuntimeError("boom")
    reply, _, _ = call(gateway, "GET", "/api/chatkit/threads", {"authorization": "Bearer good"})
    assert (reply.status, json.loads(reply.body)) == (500, {"message": "Internal Server Error"})
    assert workers["Threads"].events == []


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/nope"),
        ("POST", "/health"),
        ("GET", "/api/chatkit/threads/a/b"),
        ("DELETE", "/api/chatkit/threads"),
    ],
)
def test_unknown_routes_are_404(gateway: Gateway, method: str, target: str) -> None:
    reply, _, _ = call(gateway, method, target, {"authorization": "Bearer good"})
    assert (reply.status, json.loads(reply.body)) == (404, {"message": "Not Found"})


def test_preflight_from_an_allowed_origin_is_granted(
    gateway: Gateway, workers: dict[str, RecordingWorker]
) -> None:
    reply, _, headers = call(
        gateway,
        "OPTIONS",
        "/api/chatkit/threads",
        {
            "origin": "http://localhost:3000",
            "access-control-request-method": "GET",
            "access-control-request-headers": "Authorization, Content-Type, X-Other",
        },
    )
    assert reply.status == 204
    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert headers["access-control-allow-headers"] == "authorization,content-type"
    assert headers["access-control-max-age"] == "600"
    assert workers["Auth"].events == []


def test_preflight_from_another_origin_grants_nothing(gateway: Gateway) -> None:
    reply, _, headers = call(
        gateway,
        "OPTIONS",
        "/api/chatkit/threads",
        {"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert reply.status == 204
    assert not any(name.startswith("access-control-") for name in headers)


def test_responses_carry_cors_headers_only_for_allowed_origins(gateway: Gateway) -> None:
    _, _, allowed = call(gateway, "GET", "/health", {"origin": "http://localhost:3000"})
    _, _, other = call(gateway, "GET", "/health", {"origin": "https://evil.example"})
    assert allowed["access-control-allow-origin"] == "http://localhost:3000"
    assert allowed["access-control-expose-headers"] == "retry-after"
    assert "access-control-allow-origin" not in other


@pytest.mark.parametrize(
    ("result", "status", "content_type", "body"),
    [
        ({"statusCode": 204}, 204, None, b""),
        (
            {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": "{}"},
            201,
            "application/json",
            b"{}",
        ),
        ({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True}, 200, None, b"hi"),
        ({"ok": True}, 200, "application/json", b'{"ok": true}'),
        ("plain", 200, "application/json", b"plain"),
    ],
)
def test_function_results_become_http_responses(
    result: Any, status: int, content_type: str | None, body: bytes
) -> None:
    reply = to_reply(result)
    assert (reply.status, dict(reply.headers).get("content-type"), reply.body) == (status, content_type, body)


def test_an_authorizer_raising_unauthorized_is_a_401_and_is_not_cached(
    gateway: Gateway, workers: dict[str, RecordingWorker]
) -> None:
    workers["Auth"].answer = Exception("Unauthorized")
    for _ in range(2):
        reply, served_by, _ = call(gateway, "GET", "/api/chatkit/threads", {"authorization": "Bearer good"})
        assert (reply.status, json.loads(reply.body)) == (401, {"message": "Unauthorized"})
    assert len(workers["Auth"].events) == 2 and workers["Threads"].events == []
    assert served_by == "Threads auth=called:unauthorized"
