"""Every ChatKit request type in every wrong state: a 4xx ``{"detail"}``, and nothing changes.

The request types are those of the installed openai-chatkit (``chatkit.types.ChatKitReq``; a
test below fails when a new one appears without a row here). The states are the mistakes a
client (or an attacker) can make: wrong media type, malformed params, ids that are unknown,
malformed or another user's, items of the wrong kind or in the wrong state, sizes over the
limits, features this server does not offer. Each case runs against one world of two users'
threads and items in moto, and checks that ChatKitTable and TasksTable are byte-for-byte what
they were, and that the model was never called.
"""

from __future__ import annotations

import asyncio
import json
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ChatKitReq,
    ClientToolCallItem,
    InferenceOptions,
    StructuredInputFreeform,
    StructuredInputItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from chatkit.widgets import Card, Text
from moto import mock_aws

from chatkit_backend import limits
from local.resources import FAKE_CREDENTIALS, create_resources
from local.template import REGION, Template
from tests.component.chatkit_app import load_chatkit_app, post, request_context, set_openai_key, user_message
from tests.conftest import AwsResources
from tests.support.responses import FakeResponses, fake_responses

# ---- the world: two users' threads, with an item of every kind the requests can name ------------

ALICE, BOB = "alice", "bob"
A = "thr_alice_a"  # user message, assistant message, widget, structured inputs, a completed tool call
A2 = "thr_alice_b"  # a user message only
B = "thr_bob_a"  # Bob's: a user message, a widget, a pending structured input, a pending tool call
ID = {
    "a_user": "msg_a_user", "a_assistant": "msg_a_assistant", "a_widget": "wdg_a", "a_pending_input": "si_a_pending",
    "a_answered_input": "si_a_answered", "a_tool_call": "tc_a_done", "a2_user": "msg_a2_user",
    "b_user": "msg_b_user", "b_widget": "wdg_b", "b_pending_input": "si_b_pending", "b_tool_call": "tc_b_pending",
}


def _items(thread_id: str, start: datetime) -> list[Any]:
    at = iter(start + timedelta(seconds=n) for n in range(20))
    user = lambda item_id: UserMessageItem(  # noqa: E731
        id=item_id, thread_id=thread_id, created_at=next(at), content=[UserMessageTextContent(text="hello")],
        inference_options=InferenceOptions(),
    )
    widget = lambda item_id: WidgetItem(id=item_id, thread_id=thread_id, created_at=next(at), widget=Card(children=[Text(value="Buy milk")]))  # noqa: E731
    question = lambda item_id, status: StructuredInputItem(  # noqa: E731
        id=item_id, thread_id=thread_id, created_at=next(at), status=status,
        inputs=[StructuredInputFreeform(id="q1", question="Which list?")],
    )
    tool_call = lambda item_id, status: ClientToolCallItem(  # noqa: E731
        id=item_id, thread_id=thread_id, created_at=next(at), status=status, call_id=f"call_{item_id}",
        name="get_location", arguments={},
    )
    if thread_id == A:
        return [
            user(ID["a_user"]),
            AssistantMessageItem(id=ID["a_assistant"], thread_id=A, created_at=next(at), content=[AssistantMessageContent(text="Hi!")]),
            widget(ID["a_widget"]),
            question(ID["a_pending_input"], "pending"),
            question(ID["a_answered_input"], "answered"),
            tool_call(ID["a_tool_call"], "completed"),
        ]
    if thread_id == A2:
        return [user(ID["a2_user"])]
    return [user(ID["b_user"]), widget(ID["b_widget"]), question(ID["b_pending_input"], "pending"), tool_call(ID["b_tool_call"], "pending")]


async def _seed(table: str) -> None:
    from chatkit_backend.assistant.store import DynamoDBStore, RequestContext

    store = DynamoDBStore(table)
    start = datetime(2026, 11, 1, 9, 0, 0)
    for owner, thread_id in ((ALICE, A), (ALICE, A2), (BOB, B)):
        context = RequestContext(user_id=owner)
        await store.save_thread(ThreadMetadata(id=thread_id, title="Groceries", created_at=start), context)
        for item in _items(thread_id, start):
            await store.add_thread_item(thread_id, item, context)


@dataclass
class World:
    app: Any
    aws: AwsResources
    fake: FakeResponses

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        tables = {}
        for logical_id in ("ChatKitTable", "TasksTable"):
            items = dynamodb.scan(TableName=self.aws.physical_id(logical_id), ConsistentRead=True)["Items"]  # the test's view only
            tables[logical_id] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
        return tables


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    patch = pytest.MonkeyPatch()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        patch.delenv(name, raising=False)
    for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        patch.setenv(name, value)
    try:
        with mock_aws(), fake_responses() as fake:
            template = Template.load()
            create_resources(template, lambda service: boto3.client(service, region_name=REGION))
            aws = AwsResources(template)
            set_openai_key(aws)
            app = load_chatkit_app(aws, patch, {"OPENAI_BASE_URL": fake.url})
            asyncio.run(_seed(aws.physical_id("ChatKitTable")))
            yield World(app, aws, fake)
    finally:
        patch.undo()


# ---- the table ------------------------------------------------------------------------------------

Params = dict[str, Any]


def message(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {**user_message(text), **extra}


# A well-formed request of each type, aimed at Alice's own thread A: each state below breaks one thing.
VALID: dict[str, Params] = {
    "threads.create": {"input": message()},
    "threads.add_user_message": {"thread_id": A, "input": message()},
    "threads.add_client_tool_output": {"thread_id": A, "result": {"ok": True}},
    "threads.add_structured_input": {"thread_id": A, "item_id": ID["a_pending_input"], "input": {"answers": {"q1": {"values": ["Home"]}}}},
    "threads.retry_after_item": {"thread_id": A, "item_id": ID["a_user"]},
    "threads.custom_action": {"thread_id": A, "item_id": ID["a_widget"], "action": {"type": "complete", "payload": {}}},
    "threads.get_by_id": {"thread_id": A},
    "threads.list": {"limit": 10},
    "items.list": {"thread_id": A, "limit": 10},
    "items.feedback": {"thread_id": A, "item_ids": [ID["a_assistant"]], "kind": "positive"},
    "attachments.create": {"name": "list.png", "size": 1000, "mime_type": "image/png"},
    "attachments.delete": {"attachment_id": "atc_1"},
    "threads.update": {"thread_id": A, "title": "Weekly shop"},
    "threads.delete": {"thread_id": A},
    "input.transcribe": {"audio_base64": "AAAA", "mime_type": "audio/webm"},
    "threads.sync_custom_action": {"thread_id": A, "item_id": ID["a_widget"], "action": {"type": "complete", "payload": {}}},
}
NAMES_THREAD = [kind for kind, params in VALID.items() if "thread_id" in params]
NAMES_ITEM = [kind for kind, params in VALID.items() if "item_id" in params or "item_ids" in params]


def _with(params: Params, **changes: Any) -> Params:
    return {**params, **changes}


def _item_ref(kind: str, item_id: str) -> Params:
    return {"item_ids": [item_id]} if kind == "items.feedback" else {"item_id": item_id}


# state -> (the request types it applies to, how it breaks the valid params, the status expected).
# A status may depend on the type (a dict); a params function returning None means "raw body".
STATES: dict[str, tuple[list[str], Callable[[str, Params], Any], int | dict[str, int]]] = {
    "unknown thread": (NAMES_THREAD, lambda k, p: _with(p, thread_id="thr_never_created"), 404),
    "another user's thread": (NAMES_THREAD, lambda k, p: _with(p, thread_id=B), 404),
    "malformed thread id": (NAMES_THREAD, lambda k, p: _with(p, thread_id="../thr#x" + "y" * 300), 404),
    "unknown item": (NAMES_ITEM, lambda k, p: _with(p, **_item_ref(k, "msg_never_created")), 404),
    "another user's item": (NAMES_ITEM, lambda k, p: _with(p, **_item_ref(k, ID["b_widget"] if "action" in k else ID["b_pending_input"] if "structured" in k else ID["b_user"])), 404),
    "item of another thread": (NAMES_ITEM, lambda k, p: _with(p, **_item_ref(k, ID["a2_user"])), 404),
    "item of the wrong kind": (
        ["threads.add_structured_input", "threads.retry_after_item", "threads.custom_action", "threads.sync_custom_action"],
        lambda k, p: _with(p, item_id=ID["a_user"] if k != "threads.retry_after_item" else ID["a_assistant"]),
        422,
    ),
    "item in the wrong state": (
        ["threads.add_structured_input", "threads.add_client_tool_output"],
        lambda k, p: _with(p, item_id=ID["a_answered_input"]) if "structured" in k else p,  # A's tool call is done
        409,
    ),
    "nothing pending in the thread": (["threads.add_client_tool_output"], lambda k, p: _with(p, thread_id=A2), 409),
    "over its limit": (
        ["threads.create", "threads.add_user_message", "threads.add_client_tool_output", "threads.add_structured_input",
         "threads.update", "items.feedback", "threads.list", "items.list"],
        lambda k, p: {
            "threads.create": _with(p, input=message("x" * (limits.MESSAGE_TEXT_MAX_CHARS + 1))),
            "threads.add_user_message": _with(p, input=message("x" * 20_000, quoted_text="y" * 20_000)),
            "threads.add_client_tool_output": _with(p, result={"rows": ["x" * 1000] * 70}),
            "threads.add_structured_input": _with(p, input={"answers": {"q1": {"values": ["x" * 1000] * 20}}}),
            "threads.update": _with(p, title="t" * (limits.THREAD_TITLE_MAX_CHARS + 1)),
            "items.feedback": _with(p, item_ids=[ID["a_assistant"]] * (limits.FEEDBACK_ITEMS_MAX + 1)),
            "threads.list": _with(p, limit=limits.PAGE_LIMIT_MAX + 1),
            "items.list": _with(p, limit=limits.PAGE_LIMIT_MAX + 1),
        }[k],
        {"threads.create": 413, "threads.add_user_message": 413, "threads.add_client_tool_output": 413,
         "threads.add_structured_input": 413, "threads.update": 422, "items.feedback": 422, "threads.list": 422, "items.list": 422},
    ),
    "message too large as JSON": (
        ["threads.create", "threads.add_user_message"],
        lambda k, p: _with(p, input=message("tagged", content=[
            {"type": "input_text", "text": "see"},
            {"type": "input_tag", "id": "t1", "text": "tag", "data": {"blob": "x" * limits.MESSAGE_MAX_BYTES}},
        ])),
        413,
    ),
    "control characters": (["threads.update"], lambda k, p: _with(p, title="Weekly\x00shop\x1b[2J"), 422),
    "empty value": (["threads.update", "items.feedback"], lambda k, p: _with(p, title="   ") if k == "threads.update" else _with(p, item_ids=[]), 422),
    "bad page": (["threads.list", "items.list"], lambda k, p: _with(p, order="sideways"), 422),
    "forged cursor": (["threads.list", "items.list"], lambda k, p: _with(p, after="eyJzayI6eyJTIjoiaXRlbSN0aHJfYm9iX2EjeCJ9fQ"), 422),
    "attachment in the message": (["threads.create", "threads.add_user_message"], lambda k, p: _with(p, input=message(attachments=["atc_1"])), 422),
    "not offered by this server": (["attachments.create", "attachments.delete", "input.transcribe", "threads.custom_action", "threads.sync_custom_action"], lambda k, p: p, 422),
    "wrong field types": (list(VALID), lambda k, p: {name: 5 if not isinstance(v, int) else "five" for name, v in p.items()} if p else {"limit": "ten"}, 422),
    "missing params": (list(VALID), lambda k, p: None, 422),
    "body over 1 MiB": (list(VALID), lambda k, p: _with(p, padding="x" * (limits.REQUEST_BODY_MAX_BYTES + 1)), 413),
    "wrong content type": (list(VALID), lambda k, p: p, 415),
    "no user identity": (list(VALID), lambda k, p: p, 401),
    "an MCP token": (list(VALID), lambda k, p: p, 403),
}


@dataclass(frozen=True)
class Case:
    kind: str
    state: str
    body: Any
    status: int


def _cases() -> list[Case]:
    cases = []
    for state, (kinds, breaks, status) in STATES.items():
        for kind in kinds:
            params = breaks(kind, VALID[kind])
            body = {"type": kind} if params is None else {"type": kind, "params": params}
            expected = status[kind] if isinstance(status, dict) else status
            cases.append(Case(kind, state, body, expected))
    return cases


CASES = _cases()


def _send(world: World, case: Case) -> Any:
    headers: dict[str, str] = {}
    user: str | None = ALICE
    if case.state == "wrong content type":
        headers["content-type"] = "text/plain;charset=UTF-8"
    elif case.state == "no user identity":
        headers["x-amzn-request-context"] = request_context(None)
    elif case.state == "an MCP token":
        headers["x-amzn-request-context"] = request_context(ALICE, "mcp")
    return asyncio.run(post(world.app, case.body, user, **headers))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind} | {c.state}" for c in CASES])
def test_a_wrong_request_is_refused_with_a_4xx_and_changes_nothing(world: World, case: Case) -> None:
    before = world.snapshot()
    calls = len(world.fake.requests)

    response = _send(world, case)

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert "Traceback" not in detail and "x" * 100 not in detail  # says what is wrong, echoes nothing
    assert world.snapshot() == before
    assert len(world.fake.requests) == calls == 0


def test_the_table_covers_every_request_type_of_the_installed_chatkit() -> None:
    request_types = {typing.get_args(cls.model_fields["type"].annotation)[0] for cls in typing.get_args(typing.get_args(ChatKitReq)[0])}
    assert set(VALID) == request_types
    assert len(request_types) == 16  # openai-chatkit 1.6.5; a new release may add more


def test_the_same_requests_succeed_on_the_caller_s_own_items(world: World) -> None:
    """The control: the valid requests the states start from are accepted (reads only, here)."""
    for kind in ("threads.get_by_id", "threads.list", "items.list", "items.feedback"):
        response = asyncio.run(post(world.app, {"type": kind, "params": VALID[kind]}, ALICE))
        assert response.status_code == 200, (kind, response.text)
    items = asyncio.run(post(world.app, {"type": "items.list", "params": {"thread_id": A, "order": "asc"}}, ALICE)).json()
    assert [item["id"] for item in items["data"]] == [ID[k] for k in ("a_user", "a_assistant", "a_widget", "a_pending_input", "a_answered_input", "a_tool_call")]
