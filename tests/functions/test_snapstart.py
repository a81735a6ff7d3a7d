"""SnapStart: a sandbox resumed from the snapshot renews what it must not share with its siblings.

The hooks are called the way Lambda calls them: for ChatKitFunction, the Lambda Web Adapter's
POST to the after-restore path of the app (AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH); for a plain
function, the runtime running every hook in ``snapshot_restore_py``'s registry. Each test then
checks that the clients are new objects with new connection pools and credentials, and that
they still work (moto, the model stand-ins).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import snapshot_restore_py
from chatkit_backend.aws import clients as aws_clients
from chatkit_backend.aws import snapstart

from local.emulator.events import http_event
from local.standins.openai import FakeResponses, fake_responses, text
from tests.support.chatkit_app import (
    load_chatkit_app,
    post,
    request_context,
    set_openai_key,
    sse_events,
    user_message,
)

AFTER_RESTORE = "/snapstart/after-restore"
BEFORE_CHECKPOINT = "/snapstart/before-checkpoint"


def botocore_parts(service: str) -> tuple[Any, Any, Any]:
    """The container's client for ``service``, its connection pool and its credentials."""
    client = aws_clients.client(service)
    return client._inner, client._inner._endpoint.http_session, client._inner._request_signer._credentials


def assert_renewed(before: tuple[Any, Any, Any], after: tuple[Any, Any, Any]) -> None:
    for old, new in zip(before, after, strict=True):
        assert new is not old


@pytest.fixture
def responses() -> Iterator[FakeResponses]:
    with fake_responses() as running:
        yield running


async def hook(app: Any, path: str, **headers: str) -> httpx.Response:
    """The adapter's call: a POST from inside the sandbox, with no API Gateway request context."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080"
    ) as client:
        return await client.post(path, headers=headers)


def test_the_adapters_after_restore_call_renews_chatkits_clients(
    aws: Any, monkeypatch: pytest.MonkeyPatch, responses: FakeResponses
) -> None:
    set_openai_key(aws)
    app = load_chatkit_app(aws, monkeypatch, {"OPENAI_BASE_URL": responses.url})
    service = sys.modules["chatkit_function_app"].service
    responses.script(text("Before.", pieces=1, pause=0), text("After.", pieces=1, pause=0))

    async def restore_between_two_turns() -> tuple[list[Any], list[Any], httpx.Response, httpx.Response]:
        first = await post(app, {"type": "threads.create", "params": {"input": user_message("hi")}}, "alice")
        before = [
            *botocore_parts("dynamodb"),
            *botocore_parts("secretsmanager"),
            service._http,
            service.server.agent,
        ]
        checkpoint = await hook(app, BEFORE_CHECKPOINT)
        restored = await hook(app, AFTER_RESTORE)
        after = [
            *botocore_parts("dynamodb"),
            *botocore_parts("secretsmanager"),
            service._http,
            service.server.agent,
        ]
        thread_id = sse_events(first)[0]["thread"]["id"]
        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_message("again")},
        }
        second = await post(app, body, "alice")
        return before, after, checkpoint.status_code == restored.status_code == 200, second

    before, after, hooks_ok, second = asyncio.run(restore_between_two_turns())
    assert hooks_ok
    assert_renewed(before[:6], after[:6])
    assert (
        after[6] is not before[6] and after[7] is None
    )  # the OpenAI pool is new; the agent is rebuilt on use
    # The renewed clients work: the turn after the restore reads the thread and answers.
    events = sse_events(second)
    assert events[-1]["type"] == "thread.item.done" and events[-1]["item"]["content"][0]["text"] == "After."
    assert "Before." in json.dumps(responses.requests[-1]["input"])
    assert service.server.agent is not None and service._http is after[6]


def test_the_after_restore_call_renews_the_s3_client_and_it_still_signs_sigv4(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_chatkit_app(aws, monkeypatch)
    # Built at init (so the snapshot holds it), and renewed on restore like the others.
    assert ("s3", False) in aws_clients._clients
    before = botocore_parts("s3")
    assert asyncio.run(hook(app, AFTER_RESTORE)).status_code == 200
    assert_renewed(before, botocore_parts("s3"))
    # The renewed client keeps S3's own config: presigned URLs are SigV4 (attachments rely on it).
    url = aws_clients.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60
    )
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "AWSAccessKeyId=" not in url


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        pytest.param(
            "POST",
            AFTER_RESTORE,
            {"x-amzn-request-context": request_context("alice")},
            404,
            id="through API Gateway",
        ),
        pytest.param(
            "POST",
            BEFORE_CHECKPOINT,
            {"x-amzn-request-context": request_context(None)},
            404,
            id="checkpoint through API Gateway",
        ),
        pytest.param("GET", AFTER_RESTORE, {}, 404, id="GET"),
        pytest.param("POST", "/snapstart/other", {}, 404, id="unknown hook"),
    ],
)
def test_only_the_adapter_reaches_the_hooks(
    aws: Any, monkeypatch: pytest.MonkeyPatch, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    app = load_chatkit_app(aws, monkeypatch)
    before = botocore_parts("dynamodb")

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://chatkit.local"
        ) as client:
            return await client.request(method, path, headers=headers)

    response = asyncio.run(call())
    assert response.status_code == status and "detail" in response.json()
    assert botocore_parts("dynamodb")[0] is before[0]  # nothing was renewed


def test_a_failing_hook_fails_the_restore(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = load_chatkit_app(aws, monkeypatch)

    def broken() -> None:
        raise RuntimeError("cannot renew")

    snapstart.register_after_restore(broken)
    try:
        response = asyncio.run(hook(app, AFTER_RESTORE))
    finally:
        snapshot_restore_py.get_after_restore().remove((broken, (), {}))
    # Non-2xx: the adapter fails the restore instead of serving from a half-renewed sandbox.
    assert response.status_code == 500 and response.json() == {"detail": "Internal server error."}


def test_the_runtimes_after_restore_hooks_renew_session_functions_clients(invoke: Any, aws: Any) -> None:
    event = http_event("POST", "/api/chatkit/session", user_id="alice")
    assert invoke("SessionFunction", event)["statusCode"] == 201
    service = sys.modules["lambda_SessionFunction_app"].service
    before = [*botocore_parts("secretsmanager"), *botocore_parts("dynamodb")]
    assert service.secrets._entries  # the signing key is cached

    # What Lambda's Python runtime does after a restore: every registered hook, in order.
    for function, args, kwargs in snapshot_restore_py.get_after_restore():
        function(*args, **kwargs)

    assert_renewed(before, [*botocore_parts("secretsmanager"), *botocore_parts("dynamodb")])
    assert not service.secrets._entries  # re-read on the next request
    assert invoke("SessionFunction", event)["statusCode"] == 201
    assert service.secrets._entries


def test_restored_sandboxes_do_not_share_a_random_sequence(aws: Any) -> None:
    snapshot = random.getstate()  # what every sandbox resumes with
    draws = []
    for _ in range(2):
        random.setstate(snapshot)
        snapstart.after_restore()
        draws.append(random.getrandbits(64))
    assert draws[0] != draws[1]
