"""ChatKitFunction's ASGI app loaded in-process, in its template environment, for the function tests."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from typing import Any

import httpx
import pytest
import requests

from local import sse
from local.emulator import aws_calls
from local.template import REGION


def load_chatkit_app(aws: Any, monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None) -> Any:
    """The module-level ``app`` of functions/chatkit/app.py, imported fresh with its environment."""
    from chatkit_backend.aws import clients as aws_clients

    aws_clients.client.cache_clear()
    spec = aws.template_with(env).functions()["ChatKitFunction"]
    for name, value in {**spec.environment, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for directory in (spec.code_dir, *spec.layer_dirs):
        monkeypatch.syspath_prepend(str(directory))
    module_spec = importlib.util.spec_from_file_location("chatkit_function_app", spec.code_dir / "app.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["chatkit_function_app"] = module  # its service, for tests that look inside
    with aws_calls.running("ChatKitFunction"):
        module_spec.loader.exec_module(module)
    return as_function(module.app, "ChatKitFunction")


def as_function(app: Any, logical_id: str) -> Any:
    """``app``, whose AWS calls are recorded as ``logical_id``'s (the least-privilege check)."""

    async def function(scope: Any, receive: Any, send: Any) -> None:
        with aws_calls.running(logical_id):
            await app(scope, receive, send)

    return function


def set_openai_key(aws: Any, key: str = "sk-test-component") -> None:
    aws.client("secretsmanager").put_secret_value(
        SecretId=aws.physical_id("OpenAIApiKeySecret"), SecretString=json.dumps({"api_key": key})
    )


def request_context(user_id: str | None, token_use: str = "user", expires_at: int | None = None) -> str:
    """The x-amzn-request-context the Lambda Web Adapter passes on for a REST API request (with a
    session token's ``expires_at`` as the authorizer sets it, a string, when given)."""
    authorizer: dict[str, str] = {}
    if user_id is not None:
        authorizer = {"principalId": user_id, "user_id": user_id, "token_use": token_use}
        if expires_at is not None:
            authorizer["expires_at"] = str(expires_at)
    return json.dumps(
        {"resourcePath": "/chatkit", "httpMethod": "POST", "stage": "dev", "authorizer": authorizer}
    )


async def post(app: Any, body: Any, user_id: str | None = "user-1", **headers: str) -> httpx.Response:
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://chatkit.local"
    ) as client:
        return await client.post(
            "/chatkit",
            content=raw,
            headers={
                "content-type": "application/json",
                "x-amzn-request-context": request_context(user_id),
                **headers,
            },
        )


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    return sse.parse(response.content)


def user_message(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


# One event loop for every request, as uvicorn has: the app's OpenAI client keeps its connections
# to the stand-in, and a connection cannot outlive the loop that opened it.
_LOOP = asyncio.new_event_loop()


def send(app: Any, body: Any, user_id: str | None = "alice", **headers: str) -> httpx.Response:
    return _LOOP.run_until_complete(post(app, body, user_id, **headers))


def create_thread(app: Any, message: str, user_id: str = "alice") -> tuple[str, list[dict[str, Any]]]:
    return create_thread_with(app, user_message(message), user_id)


def create_thread_with(
    app: Any, message: dict[str, Any], user: str = "alice"
) -> tuple[str, list[dict[str, Any]]]:
    response = send(app, {"type": "threads.create", "params": {"input": message}}, user)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/event-stream"
    events = sse_events(response)
    return events[0]["thread"]["id"], events


def message_with(text: str, *attachment_ids: str) -> dict[str, Any]:
    return {**user_message(text), "attachments": list(attachment_ids)}


def objects(aws: Any) -> dict[str, bytes]:
    """The attachments bucket's files, by key."""
    s3, bucket = aws.client("s3"), aws.physical_id("AttachmentsBucket")
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def create_attachment(app: Any, name: str, mime_type: str, size: int, user: str = "alice") -> dict[str, Any]:
    response = send(
        app,
        {"type": "attachments.create", "params": {"name": name, "size": size, "mime_type": mime_type}},
        user,
    )
    assert response.status_code == 200, response.text
    return response.json()


def upload(attachment: dict[str, Any], content: bytes) -> requests.Response:
    """The browser's part of a two-phase upload: the presigned PUT (``mock_aws`` serves it in-process)."""
    descriptor = attachment["upload_descriptor"]
    return requests.request(
        descriptor["method"], descriptor["url"], data=content, headers=descriptor["headers"], timeout=10
    )


def attach(app: Any, name: str, mime_type: str, content: bytes, user: str = "alice") -> dict[str, Any]:
    attachment = create_attachment(app, name, mime_type, len(content), user)
    assert upload(attachment, content).status_code == 200
    return attachment


def table_items(aws: Any, logical_id: str) -> list[dict[str, Any]]:
    return aws.client("dynamodb").scan(TableName=aws.physical_id(logical_id))["Items"]  # the test's view only
