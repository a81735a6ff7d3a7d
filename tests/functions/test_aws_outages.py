"""When DynamoDB or Secrets Manager fails, every route answers 503 {"detail"} with Retry-After.

The failures are made by stubbing botocore's transport of the container's own clients
(tests/support/aws_faults.py): the code under test runs unchanged, botocore retries as it
would in AWS, then gives up. Each fault class is its own case: a 500, throttling, no
connection, a read timeout.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from chatkit_backend.auth.verifier import VerifierSettings, build_verifier
from chatkit_backend.aws.secrets import SecretCache
from chatkit_backend.errors import DependencyUnavailable

from local.emulator.events import http_event
from local.standins.openai import FakeResponses, fake_responses, text
from tests.conftest import AwsResources
from tests.support.auth import captured_logs
from tests.support.auth_cases import session_token
from tests.support.aws_faults import FAULTS, Fault, Outage
from tests.support.chatkit_app import load_chatkit_app, post, set_openai_key, sse_events, user_message
from tests.support.mcp_client import modern
from tests.support.mcp_client import send as send_mcp

pytestmark = pytest.mark.parametrize("fault", FAULTS)


def assert_503(status: int, headers: dict[str, str], body: Any, service: str) -> None:
    assert status == 503, body
    assert {k.lower(): v for k, v in headers.items()}["retry-after"] == "5"
    assert service in body["detail"] and "Try again" in body["detail"]


def table(aws: AwsResources, logical_id: str) -> list[dict[str, Any]]:
    return aws.client("dynamodb").scan(TableName=aws.physical_id(logical_id))["Items"]  # the test's view only


# ---- REST routes -----------------------------------------------------------------------------------


def test_threads_routes_answer_503_and_delete_nothing(invoke: Any, aws: AwsResources, fault: Fault) -> None:
    thread = {"thread_id": "thr_1"}
    delete = http_event(
        "DELETE",
        "/api/chatkit/threads/thr_1",
        path_params=thread,
        route_key="DELETE /api/chatkit/threads/{thread_id}",
    )
    invoke("ThreadsFunction", http_event("GET", "/api/chatkit/threads"))  # a warm container
    with Outage("dynamodb", fault) as outage:
        for event in (http_event("GET", "/api/chatkit/threads"), delete):
            result = invoke("ThreadsFunction", event)
            assert_503(result["statusCode"], result["headers"], json.loads(result["body"]), "DynamoDB")
    assert sum(outage.attempts.values()) == 4  # two requests, each tried twice
    assert invoke("ThreadsFunction", delete)["statusCode"] == 404  # and it answers again at once


@pytest.mark.parametrize("service", ["secretsmanager", "dynamodb"])
def test_session_route_answers_503_when_its_key_or_table_cannot_be_read(
    invoke: Any, fault: Fault, service: str
) -> None:
    event = http_event("POST", "/api/chatkit/session", body={})
    with Outage(service, fault):
        result = invoke("SessionFunction", event)
    name = {"secretsmanager": "Secrets Manager", "dynamodb": "DynamoDB"}[service]
    assert_503(result["statusCode"], result["headers"], json.loads(result["body"]), name)


def test_an_mcp_tool_call_tells_the_model_to_check_before_retrying(invoke: Any, fault: Fault) -> None:
    body, headers = modern("tools/call", {"name": "add_task", "arguments": {"title": "Buy milk"}})
    with Outage("dynamodb", fault):
        reply = send_mcp(invoke, body, headers)
    assert reply.status == 200 and reply.result["isError"] is True
    sentence = reply.result["content"][0]["text"]
    assert "DynamoDB" in sentence and "call list_tasks to see whether the change was made" in sentence


# ---- POST /chatkit ---------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Any:
    with fake_responses() as running:
        yield running


@pytest.fixture
def chat(aws: AwsResources, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses) -> Any:
    set_openai_key(aws)
    return load_chatkit_app(aws, monkeypatch, {"OPENAI_BASE_URL": fake.url})


def call(app: Any, body: Any) -> Any:
    return asyncio.run(post(app, body, "alice"))


def test_chatkit_reads_and_creates_answer_503_and_leave_no_thread(
    chat: Any, aws: AwsResources, fake: FakeResponses, fault: Fault
) -> None:
    with Outage("dynamodb", fault):
        for body in (
            {"type": "threads.list", "params": {}},
            {"type": "threads.create", "params": {"input": user_message("Add buy milk")}},
        ):
            response = call(chat, body)
            assert_503(response.status_code, dict(response.headers), response.json(), "DynamoDB")
    assert table(aws, "ChatKitTable") == [] and fake.requests == []


def test_an_outage_mid_answer_ends_the_stream_with_a_chatkit_error_and_the_next_turn_works(
    chat: Any, aws: AwsResources, fake: FakeResponses, fault: Fault
) -> None:
    outage = Outage("dynamodb", fault)

    def down_while_the_model_answers(request: dict[str, Any]) -> Any:
        outage.start()
        return text("Added it.", pieces=2, pause=0)

    fake.script(down_while_the_model_answers, text("Done now.", pieces=1, pause=0))

    async def conversation() -> tuple[Any, list[dict[str, Any]], Any]:
        # One event loop for both turns, as the function has: the OpenAI client's connections live in it.
        try:
            first = await post(
                chat, {"type": "threads.create", "params": {"input": user_message("Add buy milk")}}, "alice"
            )
        finally:
            outage.stop()
        thread_id = sse_events(first)[0]["thread"]["id"]
        listed = await post(
            chat, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}, "alice"
        )
        items = listed.json()["data"]
        retry = {
            "type": "threads.retry_after_item",
            "params": {"thread_id": thread_id, "item_id": items[0]["id"]},
        }
        return first, items, await post(chat, retry, "alice")

    first, items, retried = asyncio.run(conversation())
    events = sse_events(first)
    assert first.status_code == 200
    assert events[-1]["type"] == "error" and events[-1]["allow_retry"] is True
    # The user's message was stored before the outage, once; the answer that could not be saved is not there.
    assert [item["type"] for item in items] == ["user_message"]
    again = sse_events(retried)
    assert "error" not in [event["type"] for event in again]
    answers = [
        e["item"]
        for e in again
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]
    assert [answer["content"][0]["text"] for answer in answers] == ["Done now."]


# ---- the authorizer's keys and secrets -------------------------------------------------------------


def test_secrets_serve_their_last_good_value_for_an_hour_then_fail(aws: AwsResources, fault: Fault) -> None:
    from chatkit_backend.aws.clients import client

    client.cache_clear()
    secret_id = aws.physical_id("TokenSigningSecret")
    value = aws.client("secretsmanager").get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")[
        "SecretString"
    ]
    clock = [1000.0]
    cache = SecretCache(clock=lambda: clock[0])
    assert cache.get(secret_id).value == value

    with Outage("secretsmanager", fault) as outage, captured_logs() as logs:
        for minute in range(1, 60):
            clock[0] = 1000.0 + minute * 60
            assert cache.get(secret_id).value == value
            clock[0] += 5  # within the 10 s pause after a failure: no new attempt
            assert cache.get(secret_id, force=True).value == value
        # One short attempt a minute (the fail-fast client does not retry), one warning a minute.
        assert outage.attempts["GetSecretValue"] == 59
        assert logs.text.count("Secrets Manager read failed") == 59
        clock[0] = 1000.0 + 3601
        with pytest.raises(DependencyUnavailable):
            cache.get(secret_id)
    clock[0] += 11
    assert cache.get(secret_id).value == value  # back once Secrets Manager is


def test_a_valid_token_keeps_verifying_while_secrets_manager_is_down(aws: AwsResources, fault: Fault) -> None:
    from chatkit_backend.aws.clients import client

    client.cache_clear()
    secret_id = aws.physical_id("TokenSigningSecret")
    key = aws.client("secretsmanager").get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")[
        "SecretString"
    ]
    clock = [0.0]
    verifier = build_verifier(
        VerifierSettings(secret_id, aws.physical_id("UserTokenSecret"), "", "", ""),
        SecretCache(clock=lambda: clock[0]),
    )
    assert verifier.verify(session_token("alice", key, 3600)).user_id == "alice"

    with Outage("secretsmanager", fault):
        clock[0] = 61.0  # the cache's own lifetime is over: every stage is re-read, and fails
        assert verifier.verify(session_token("alice", key, 3600)).user_id == "alice"
        clock[0] = 3599.0
        assert verifier.verify(session_token("bob", key, 3600)).user_id == "bob"
        clock[0] = 3700.0  # past the hour: no key is trusted any longer
        with pytest.raises(DependencyUnavailable):
            verifier.verify(session_token("alice", key, 3600))
