"""The local gateway's REST API routes: policy authorizer, request context, streamed bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.emulator.gateway import Gateway, policy_effect
from local.emulator.runtime import Invocation, WebAppWorker, WebResponse
from local.template import AuthorizerSpec, Route

ARN = "arn:aws:execute-api:us-east-1:123456789012:localrest/dev/POST/chatkit"


class RecordingAuthorizer:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail = False

    def invoke(self, event: dict[str, Any]) -> Invocation:
        self.events.append(event)
        if self.fail:
            return Invocation(error={"errorType": "RuntimeError", "errorMessage": "boom"})
        token = event["headers"].get("authorization", "")
        effect = "Allow" if token == "Bearer good" else "Deny"
        stage_arn = event["methodArn"].rsplit("/", 2)[0] + "/*"
        return Invocation(
            result={
                "principalId": "alice",
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": stage_arn}],
                },
                "context": {"user_id": "alice", "token_use": "user"},
            }
        )


class ScriptedWebApp(WebAppWorker):
    """Stands in for the web app behind the adapter: records requests, answers in pieces."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.closed = False

    def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes, request_context: dict[str, Any]
    ) -> WebResponse:
        self.requests.append(
            {"method": method, "target": target, "headers": headers, "body": body, "context": request_context}
        )

        def chunks() -> Iterator[bytes]:
            try:
                yield b"data: one\n\n"
                yield b"data: two\n\n"
            finally:
                self.closed = True

        return WebResponse(
            200, [("content-type", "text/event-stream"), ("date", "x"), ("server", "uvicorn")], chunks()
        )


@pytest.fixture
def parts() -> tuple[RecordingAuthorizer, ScriptedWebApp]:
    return RecordingAuthorizer(), ScriptedWebApp()


@pytest.fixture
def gateway(parts: tuple[RecordingAuthorizer, ScriptedWebApp]) -> Gateway:
    authorizer, app = parts
    routes = [
        Route("POST", "/chatkit", "ChatKit", authorized=True, api="rest", streaming=True),
        Route("OPTIONS", "/chatkit", "ChatKit", authorized=False, api="rest", streaming=True),
    ]
    spec = AuthorizerSpec(
        "JwtRest", "Auth", ("authorization",), 60, simple_responses=False, payload_version="1.0", api="rest"
    )
    return Gateway(
        routes, {"Auth": authorizer, "ChatKit": app}, None, None, rest_authorizer=spec, rest_stage="dev"
    )  # type: ignore[dict-item]


def test_missing_token_is_401_before_any_authorizer_call(gateway: Gateway, parts: Any) -> None:
    reply, _served_by = gateway.handle("POST", "/chatkit", {}, b"{}", "127.0.0.1")
    assert (reply.status, json.loads(reply.body)) == (401, {"message": "Unauthorized"})
    assert parts[0].events == [] and parts[1].requests == []


def test_a_deny_policy_is_403_and_the_app_never_sees_the_request(gateway: Gateway, parts: Any) -> None:
    reply, _ = gateway.handle("POST", "/chatkit", {"authorization": "Bearer forged"}, b"{}", "127.0.0.1")
    assert reply.status == 403 and "explicit deny" in json.loads(reply.body)["Message"]
    assert parts[1].requests == []


def test_an_allowed_request_streams_with_the_authorizer_context(gateway: Gateway, parts: Any) -> None:
    headers = {
        "authorization": "Bearer good",
        "x-amzn-request-context": '{"authorizer":{"user_id":"mallory"}}',
    }
    reply, served_by = gateway.handle(
        "POST", "/chatkit?x=1", headers, b'{"type":"threads.list"}', "127.0.0.1"
    )
    assert reply.status == 200 and reply.chunks is not None and served_by.endswith("streamed")
    assert list(reply.chunks) == [b"data: one\n\n", b"data: two\n\n"]
    assert ("date", "x") not in reply.headers and ("server", "uvicorn") not in reply.headers
    [request] = parts[1].requests
    assert request["target"] == "/chatkit?x=1" and request["body"] == b'{"type":"threads.list"}'
    assert request["context"]["authorizer"] == {
        "principalId": "alice",
        "user_id": "alice",
        "token_use": "user",
    }
    assert (request["context"]["resourcePath"], request["context"]["stage"], request["context"]["path"]) == (
        "/chatkit",
        "dev",
        "/dev/chatkit",
    )
    event = parts[0].events[0]
    assert (event["type"], event["methodArn"], event["resource"]) == ("REQUEST", ARN, "/chatkit")


def test_the_policy_is_cached_per_token(gateway: Gateway, parts: Any) -> None:
    for _ in range(3):
        reply, served_by = gateway.handle(
            "POST", "/chatkit", {"authorization": "Bearer good"}, b"{}", "127.0.0.1"
        )
        list(reply.chunks or [])
    assert len(parts[0].events) == 1 and "auth=cached:allowed" in served_by


def test_authorizer_failure_is_500(gateway: Gateway, parts: Any) -> None:
    parts[0].fail = True
    reply, _ = gateway.handle("POST", "/chatkit", {"authorization": "Bearer good"}, b"{}", "127.0.0.1")
    assert reply.status == 500 and parts[1].requests == []


def test_preflight_goes_to_the_function_without_a_token(gateway: Gateway, parts: Any) -> None:
    reply, _ = gateway.handle(
        "OPTIONS",
        "/chatkit",
        {"origin": "http://localhost:3000", "access-control-request-method": "POST"},
        b"",
        "127.0.0.1",
    )
    assert reply.status == 200 and parts[0].events == [] and len(parts[1].requests) == 1


@pytest.mark.parametrize(
    ("statements", "effect"),
    [
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:localrest/dev/*",
                }
            ],
            "Allow",
        ),
        ([{"Effect": "Allow", "Action": ["execute-api:Invoke"], "Resource": [ARN]}], "Allow"),
        (
            [
                {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:localrest/dev/GET/*",
                }
            ],
            None,
        ),
        ([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], None),
        (
            [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN},
            ],
            "Deny",
        ),
        ([], None),
    ],
)
def test_policy_effect_follows_iam_rules(statements: list[dict[str, Any]], effect: str | None) -> None:
    assert policy_effect({"Version": "2012-10-17", "Statement": statements}, ARN) == effect
