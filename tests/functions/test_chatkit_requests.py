"""Every ChatKit request type in every wrong state: a 4xx ``{"detail"}``, and nothing changes.

The request types are those of the installed openai-chatkit (``chatkit.types.ChatKitReq``; a
test below fails when a new one appears without a row here). The states are the mistakes a
client (or an attacker) can make: wrong media type, malformed params, ids that are unknown,
malformed or another user's (threads, items, attachments, tasks), items of the wrong kind or in
the wrong state, sizes over the limits, files, recordings and widget actions the server does not
take. Each case runs against one world of two users' threads, items, attachments and tasks in
moto, and checks that ChatKitTable, TasksTable and the attachments bucket are byte-for-byte what
they were, and that neither the model nor the transcription endpoint was called.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
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
    FileAttachment,
    InferenceOptions,
    StructuredInputFreeform,
    StructuredInputItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from chatkit.widgets import Card, Text
from chatkit_backend import limits
from chatkit_backend.chat.attachments import object_key

from local.standins.openai import FakeResponses, fake_responses
from local.template import REGION
from tests.conftest import AwsResources, template_in_moto
from tests.support.chatkit_app import load_chatkit_app, post, request_context, set_openai_key, user_message

# ---- the world: two users' threads, with an item of every kind the requests can name ------------

ALICE, BOB = "alice", "bob"
A = "thr_alice_a"  # user message, assistant message, widget, structured inputs, a completed tool call
A2 = "thr_alice_b"  # a user message only
B = "thr_bob_a"  # Bob's: a user message, a widget, a pending structured input, a pending tool call
ID = {
    "a_user": "msg_a_user",
    "a_assistant": "msg_a_assistant",
    "a_widget": "wdg_a",
    "a_pending_input": "si_a_pending",
    "a_answered_input": "si_a_answered",
    "a_tool_call": "tc_a_done",
    "a2_user": "msg_a2_user",
    "b_user": "msg_b_user",
    "b_widget": "wdg_b",
    "b_pending_input": "si_b_pending",
    "b_tool_call": "tc_b_pending",
}
# Attachments: (owner, the thread its message is in, bytes uploaded or None when never uploaded).
MAX_BYTES = 4096  # AttachmentMaxBytes for this world, so an oversized file stays small
ATTACHMENTS: dict[str, tuple[str, str | None, bytes | None]] = {
    "atc_alice_pending": (ALICE, None, None),
    "atc_alice_ready": (ALICE, None, b"%PDF-1.7 ready"),
    "atc_alice_in_a2": (ALICE, A2, b"%PDF-1.7 sent"),
    "atc_alice_big": (ALICE, None, b"%" * (MAX_BYTES + 1)),
    "atc_bob": (BOB, None, b"%PDF-1.7 Bob's"),
}
# The users' tasks get ids only when the world is made: requests name them by these stand-ins.
ALICES_TASK, BOBS_TASK = "<alice's task>", "<bob's task>"


def _items(thread_id: str, start: datetime) -> list[Any]:
    at = iter(start + timedelta(seconds=n) for n in range(20))
    user = lambda item_id: UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=next(at),
        content=[UserMessageTextContent(text="hello")],
        inference_options=InferenceOptions(),
    )
    widget = lambda item_id: WidgetItem(
        id=item_id, thread_id=thread_id, created_at=next(at), widget=Card(children=[Text(value="Buy milk")])
    )
    question = lambda item_id, status: StructuredInputItem(
        id=item_id,
        thread_id=thread_id,
        created_at=next(at),
        status=status,
        inputs=[StructuredInputFreeform(id="q1", question="Which list?")],
    )
    tool_call = lambda item_id, status: ClientToolCallItem(
        id=item_id,
        thread_id=thread_id,
        created_at=next(at),
        status=status,
        call_id=f"call_{item_id}",
        name="get_location",
        arguments={},
    )
    if thread_id == A:
        return [
            user(ID["a_user"]),
            AssistantMessageItem(
                id=ID["a_assistant"],
                thread_id=A,
                created_at=next(at),
                content=[AssistantMessageContent(text="Hi!")],
            ),
            widget(ID["a_widget"]),
            question(ID["a_pending_input"], "pending"),
            question(ID["a_answered_input"], "answered"),
            tool_call(ID["a_tool_call"], "completed"),
        ]
    if thread_id == A2:
        return [user(ID["a2_user"])]
    return [
        user(ID["b_user"]),
        widget(ID["b_widget"]),
        question(ID["b_pending_input"], "pending"),
        tool_call(ID["b_tool_call"], "pending"),
    ]


async def _seed(table: str, bucket: str) -> dict[str, str]:
    """The threads, items and attachments above; a pending task per user (their ids by stand-in)."""
    from chatkit_backend.chat.store.context import RequestContext
    from chatkit_backend.chat.store.dynamodb import DynamoDBStore

    from tests.support.tasks import task_service

    store = DynamoDBStore(table)
    start = datetime(2026, 11, 1, 9, 0, 0)  # noqa: DTZ001 - ChatKit's items carry naive times (chatkit.agents subtracts datetime.now() from them)
    for owner, thread_id in ((ALICE, A), (ALICE, A2), (BOB, B)):
        context = RequestContext(user_id=owner)
        await store.save_thread(ThreadMetadata(id=thread_id, title="Groceries", created_at=start), context)
        for item in _items(thread_id, start):
            await store.add_thread_item(thread_id, item, context)
    s3 = boto3.client("s3", region_name=REGION)
    for attachment_id, (owner, thread_id, content) in ATTACHMENTS.items():
        attachment = FileAttachment(
            id=attachment_id, name="plan.pdf", mime_type="application/pdf", thread_id=thread_id
        )
        await store.save_attachment(attachment, RequestContext(user_id=owner))
        if content is not None:
            s3.put_object(
                Bucket=bucket,
                Key=object_key(owner, attachment_id),
                Body=content,
                ContentType="application/pdf",
            )
    return {
        ALICES_TASK: task_service().add_task(ALICE, "Buy milk").task_id,
        BOBS_TASK: task_service().add_task(BOB, "Bob's secret").task_id,
    }


@dataclass
class World:
    app: Any
    aws: AwsResources
    fake: FakeResponses
    tasks: dict[str, str]

    def snapshot(self) -> dict[str, list[Any]]:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        state: dict[str, list[Any]] = {}
        for logical_id in ("ChatKitTable", "TasksTable"):
            items = dynamodb.scan(TableName=self.aws.physical_id(logical_id), ConsistentRead=True)[
                "Items"
            ]  # the test's view only
            state[logical_id] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
        s3, bucket = boto3.client("s3", region_name=REGION), self.aws.physical_id("AttachmentsBucket")
        keys = sorted(entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
        state["AttachmentsBucket"] = [
            (
                key,
                s3.get_object(Bucket=bucket, Key=key)["Body"].read(),
                s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"],
            )
            for key in keys
        ]
        return state

    def calls_to_openai(self) -> int:
        return len(self.fake.requests) + len(self.fake.transcriptions)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    patch = pytest.MonkeyPatch()
    try:
        with template_in_moto(patch) as aws, fake_responses() as fake:
            set_openai_key(aws)
            app = load_chatkit_app(
                aws, patch, {"OPENAI_BASE_URL": fake.url, "ATTACHMENT_MAX_BYTES": str(MAX_BYTES)}
            )
            task_ids = asyncio.run(
                _seed(aws.physical_id("ChatKitTable"), aws.physical_id("AttachmentsBucket"))
            )
            yield World(app, aws, fake, task_ids)
    finally:
        patch.undo()


# ---- the table ------------------------------------------------------------------------------------

Params = dict[str, Any]


def message(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {**user_message(text), **extra}


def complete(task_id: str) -> dict[str, Any]:
    """A task widget's Complete button."""
    return {"type": "task.complete", "payload": {"task_id": task_id}}


ACTIONS = ["threads.custom_action", "threads.sync_custom_action"]
MESSAGES = ["threads.create", "threads.add_user_message"]

# A well-formed request of each type, aimed at Alice's own thread A: each state below breaks one thing.
VALID: dict[str, Params] = {
    "threads.create": {"input": message()},
    "threads.add_user_message": {"thread_id": A, "input": message()},
    "threads.add_client_tool_output": {"thread_id": A, "result": {"ok": True}},
    "threads.add_structured_input": {
        "thread_id": A,
        "item_id": ID["a_pending_input"],
        "input": {"answers": {"q1": {"values": ["Home"]}}},
    },
    "threads.retry_after_item": {"thread_id": A, "item_id": ID["a_user"]},
    "threads.custom_action": {"thread_id": A, "item_id": ID["a_widget"], "action": complete(ALICES_TASK)},
    "threads.get_by_id": {"thread_id": A},
    "threads.list": {"limit": 10},
    "items.list": {"thread_id": A, "limit": 10},
    "items.feedback": {"thread_id": A, "item_ids": [ID["a_assistant"]], "kind": "positive"},
    "attachments.create": {"name": "list.png", "size": 1000, "mime_type": "image/png"},
    "attachments.delete": {"attachment_id": "atc_alice_pending"},
    "threads.update": {"thread_id": A, "title": "Weekly shop"},
    "threads.delete": {"thread_id": A},
    "input.transcribe": {"audio_base64": "AAAA", "mime_type": "audio/webm"},
    "threads.sync_custom_action": {
        "thread_id": A,
        "item_id": ID["a_widget"],
        "action": complete(ALICES_TASK),
    },
}
NAMES_THREAD = [kind for kind, params in VALID.items() if "thread_id" in params]
NAMES_ITEM = [kind for kind, params in VALID.items() if "item_id" in params or "item_ids" in params]


def _with(params: Params, **changes: Any) -> Params:
    return {**params, **changes}


def _item_ref(kind: str, item_id: str) -> Params:
    return {"item_ids": [item_id]} if kind == "items.feedback" else {"item_id": item_id}


def _bobs_item(kind: str) -> str:
    """Bob's item of the kind the request names."""
    if "action" in kind:
        return ID["b_widget"]
    return ID["b_pending_input"] if "structured" in kind else ID["b_user"]


def _attaching(kind: str, params: Params, *attachment_ids: str) -> Params:
    """``params`` naming ``attachment_ids``: in the message sent, or as the attachment to delete."""
    if kind == "attachments.delete":
        return _with(params, attachment_id=attachment_ids[0])
    return _with(params, input=message(attachments=list(attachment_ids)))


# state -> (the request types it applies to, how it breaks the valid params, the status expected).
# A status may depend on the type (a dict); a params function returning None means "raw body".
STATES: dict[str, tuple[list[str], Callable[[str, Params], Any], int | dict[str, int]]] = {
    "unknown thread": (NAMES_THREAD, lambda k, p: _with(p, thread_id="thr_never_created"), 404),
    "another user's thread": (NAMES_THREAD, lambda k, p: _with(p, thread_id=B), 404),
    "another user's thread, with a session token": (NAMES_THREAD, lambda k, p: _with(p, thread_id=B), 404),
    "malformed thread id": (NAMES_THREAD, lambda k, p: _with(p, thread_id="../thr#x" + "y" * 300), 404),
    "unknown item": (NAMES_ITEM, lambda k, p: _with(p, **_item_ref(k, "msg_never_created")), 404),
    "another user's item": (
        NAMES_ITEM,
        lambda k, p: _with(
            p,
            **_item_ref(k, _bobs_item(k)),
        ),
        404,
    ),
    "another user's item, with a session token": (
        NAMES_ITEM,
        lambda k, p: _with(p, thread_id=B, **_item_ref(k, _bobs_item(k))),
        404,
    ),
    "item of another thread": (NAMES_ITEM, lambda k, p: _with(p, **_item_ref(k, ID["a2_user"])), 404),
    "item of the wrong kind": (
        [
            "threads.add_structured_input",
            "threads.retry_after_item",
            "threads.custom_action",
            "threads.sync_custom_action",
        ],
        lambda k, p: _with(p, item_id=ID["a_user"] if k != "threads.retry_after_item" else ID["a_assistant"]),
        422,
    ),
    "item in the wrong state": (
        ["threads.add_structured_input", "threads.add_client_tool_output"],
        lambda k, p: (
            _with(p, item_id=ID["a_answered_input"]) if "structured" in k else p
        ),  # A's tool call is done
        409,
    ),
    "nothing pending in the thread": (
        ["threads.add_client_tool_output"],
        lambda k, p: _with(p, thread_id=A2),
        409,
    ),
    "over its limit": (
        [
            "threads.create",
            "threads.add_user_message",
            "threads.add_client_tool_output",
            "threads.add_structured_input",
            "threads.update",
            "items.feedback",
            "threads.list",
            "items.list",
        ],
        lambda k, p: {
            "threads.create": _with(p, input=message("x" * (limits.MESSAGE_TEXT_MAX_CHARS + 1))),
            "threads.add_user_message": _with(p, input=message("x" * 20_000, quoted_text="y" * 20_000)),
            "threads.add_client_tool_output": _with(p, result={"rows": ["x" * 1000] * 70}),
            "threads.add_structured_input": _with(
                p, input={"answers": {"q1": {"values": ["x" * 1000] * 20}}}
            ),
            "threads.update": _with(p, title="t" * (limits.THREAD_TITLE_MAX_CHARS + 1)),
            "items.feedback": _with(p, item_ids=[ID["a_assistant"]] * (limits.FEEDBACK_ITEMS_MAX + 1)),
            "threads.list": _with(p, limit=limits.PAGE_LIMIT_MAX + 1),
            "items.list": _with(p, limit=limits.PAGE_LIMIT_MAX + 1),
        }[k],
        {
            "threads.create": 413,
            "threads.add_user_message": 413,
            "threads.add_client_tool_output": 413,
            "threads.add_structured_input": 413,
            "threads.update": 422,
            "items.feedback": 422,
            "threads.list": 422,
            "items.list": 422,
        },
    ),
    "message too large as JSON": (
        ["threads.create", "threads.add_user_message"],
        lambda k, p: _with(
            p,
            input=message(
                "tagged",
                content=[
                    {"type": "input_text", "text": "see"},
                    {
                        "type": "input_tag",
                        "id": "t1",
                        "text": "tag",
                        "data": {"blob": "x" * limits.MESSAGE_MAX_BYTES},
                    },
                ],
            ),
        ),
        413,
    ),
    "control characters": (["threads.update"], lambda k, p: _with(p, title="Weekly\x00shop\x1b[2J"), 422),
    "empty value": (
        ["threads.update", "items.feedback"],
        lambda k, p: _with(p, title="   ") if k == "threads.update" else _with(p, item_ids=[]),
        422,
    ),
    "bad page": (["threads.list", "items.list"], lambda k, p: _with(p, order="sideways"), 422),
    # ChatKit reads 0 as "the default page" (limit or DEFAULT): refused before it does.
    "page of no items": (["threads.list", "items.list"], lambda k, p: _with(p, limit=0), 422),
    "page of fewer than no items": (["threads.list", "items.list"], lambda k, p: _with(p, limit=-1), 422),
    "forged cursor": (
        ["threads.list", "items.list"],
        lambda k, p: _with(p, after="eyJzayI6eyJTIjoiaXRlbSN0aHJfYm9iX2EjeCJ9fQ"),
        422,
    ),
    "unknown attachment": (
        MESSAGES + ["attachments.delete"],
        lambda k, p: _attaching(k, p, "atc_never_created"),
        404,
    ),
    "another user's attachment": (
        MESSAGES + ["attachments.delete"],
        lambda k, p: _attaching(k, p, "atc_bob"),
        404,
    ),
    "malformed attachment id": (
        MESSAGES + ["attachments.delete"],
        lambda k, p: _attaching(k, p, "../atc#x" + "y" * 300),
        404,
    ),
    "an attachment never uploaded": (MESSAGES, lambda k, p: _attaching(k, p, "atc_alice_pending"), 422),
    "an attachment over the size limit": (MESSAGES, lambda k, p: _attaching(k, p, "atc_alice_big"), 422),
    "an attachment of another thread": (MESSAGES, lambda k, p: _attaching(k, p, "atc_alice_in_a2"), 422),
    "too many attachments": (
        MESSAGES,
        lambda k, p: _attaching(k, p, *["atc_alice_ready"] * (limits.ATTACHMENTS_PER_MESSAGE_MAX + 1)),
        422,
    ),
    "a file type the server does not read": (
        ["attachments.create"],
        lambda k, p: _with(p, mime_type="text/html"),
        422,
    ),
    "a file over the size limit": (["attachments.create"], lambda k, p: _with(p, size=MAX_BYTES + 1), 422),
    "an empty file": (["attachments.create"], lambda k, p: _with(p, size=0), 422),
    "a file without a name": (["attachments.create"], lambda k, p: _with(p, name=" \x00\u200b\n"), 422),
    "an audio type the server does not read": (
        ["input.transcribe"],
        lambda k, p: _with(p, mime_type="audio/flac"),
        422,
    ),
    "audio that is not base64": (
        ["input.transcribe"],
        lambda k, p: _with(p, audio_base64="not base64!"),
        422,
    ),
    "an empty recording": (["input.transcribe"], lambda k, p: _with(p, audio_base64=""), 422),
    "a recording over its limit": (
        ["input.transcribe"],
        lambda k, p: _with(
            p, audio_base64=base64.b64encode(bytes(limits.DICTATION_AUDIO_MAX_BYTES + 1)).decode()
        ),
        422,
    ),
    "an action the server does not know": (
        ACTIONS,
        lambda k, p: _with(p, action={"type": "complete", "payload": {}}),
        422,
    ),
    "an action payload beyond a task id": (
        ACTIONS,
        lambda k, p: _with(
            p, action={**complete(ALICES_TASK), "payload": {"task_id": ALICES_TASK, "user_id": BOB}}
        ),
        422,
    ),
    "an unknown task": (ACTIONS, lambda k, p: _with(p, action=complete("01JQ7Z8X9Y0ABCDEFGHJKMNPQR")), 404),
    "another user's task": (ACTIONS, lambda k, p: _with(p, action=complete(BOBS_TASK)), 404),
    "wrong field types": (
        list(VALID),
        lambda k, p: (
            {name: 5 if not isinstance(v, int) else "five" for name, v in p.items()}
            if p
            else {"limit": "ten"}
        ),
        422,
    ),
    "missing params": (list(VALID), lambda k, p: None, 422),
    "body over its limit": (
        list(VALID),
        lambda k, p: _with(
            p,
            padding="x"
            * (
                (
                    limits.TRANSCRIBE_BODY_MAX_BYTES
                    if k == "input.transcribe"
                    else limits.REQUEST_BODY_MAX_BYTES
                )
                + 1
            ),
        ),
        413,
    ),
    "wrong content type": (list(VALID), lambda k, p: p, 415),
    "no user identity": (list(VALID), lambda k, p: p, 401),
    "an expired session token": (list(VALID), lambda k, p: p, 401),
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
    elif case.state.endswith("with a session token"):
        headers["x-amzn-request-context"] = request_context(ALICE, "session", int(time.time()) + 600)
    elif case.state == "an expired session token":
        # Its exp has passed while API Gateway still holds the authorizer's Allow for it.
        headers["x-amzn-request-context"] = request_context(ALICE, "session", int(time.time()) - 1)
    body = json.dumps(case.body)
    for stand_in, task_id in world.tasks.items():
        body = body.replace(json.dumps(stand_in)[1:-1], task_id)
    return asyncio.run(post(world.app, body, user, **headers))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.kind} | {c.state}" for c in CASES])
def test_a_wrong_request_is_refused_with_a_4xx_and_changes_nothing(world: World, case: Case) -> None:
    before = world.snapshot()
    calls = world.calls_to_openai()

    response = _send(world, case)

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert "Traceback" not in detail and "x" * 100 not in detail  # says what is wrong, echoes nothing
    assert world.snapshot() == before
    assert world.calls_to_openai() == calls == 0


def test_the_table_covers_every_request_type_of_the_installed_chatkit() -> None:
    request_types = {
        typing.get_args(cls.model_fields["type"].annotation)[0]
        for cls in typing.get_args(typing.get_args(ChatKitReq)[0])
    }
    assert set(VALID) == request_types
    assert len(request_types) == 16  # openai-chatkit 1.6.5; a new release may add more


def test_the_same_requests_succeed_on_the_caller_s_own_items(world: World) -> None:
    """The control: the valid requests the states start from are accepted (reads only, here)."""
    for kind in ("threads.get_by_id", "threads.list", "items.list", "items.feedback"):
        response = asyncio.run(post(world.app, {"type": kind, "params": VALID[kind]}, ALICE))
        assert response.status_code == 200, (kind, response.text)
    items = asyncio.run(
        post(world.app, {"type": "items.list", "params": {"thread_id": A, "order": "asc"}}, ALICE)
    ).json()
    assert [item["id"] for item in items["data"]] == [
        ID[k]
        for k in ("a_user", "a_assistant", "a_widget", "a_pending_input", "a_answered_input", "a_tool_call")
    ]


def test_the_valid_writes_succeed_and_change_only_the_caller_s_own(world: World) -> None:
    """The control for the write states: Alice's own task is completed by the action, her own
    attachment is deleted, and Bob's task and file stay as they were. It changes the world, so it
    runs after the table (pytest keeps the file's order)."""
    tasks = boto3.client("dynamodb", region_name=REGION)
    table = world.aws.physical_id("TasksTable")

    def status(user: str, stand_in: str) -> str:
        key = {"user_id": {"S": user}, "task_id": {"S": world.tasks[stand_in]}}
        return tasks.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["status"]["S"]

    sync = _send(
        world,
        Case(
            "threads.sync_custom_action",
            "valid",
            {"type": "threads.sync_custom_action", "params": VALID["threads.sync_custom_action"]},
            200,
        ),
    )
    assert sync.status_code == 200, sync.text
    assert (status(ALICE, ALICES_TASK), status(BOB, BOBS_TASK)) == ("completed", "pending")

    bucket = world.aws.physical_id("AttachmentsBucket")
    deleted = asyncio.run(
        post(world.app, {"type": "attachments.delete", "params": {"attachment_id": "atc_alice_ready"}}, ALICE)
    )
    assert deleted.status_code == 200, deleted.text
    keys = [
        entry["Key"]
        for entry in boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=bucket)["Contents"]
    ]
    assert object_key(ALICE, "atc_alice_ready") not in keys and object_key(BOB, "atc_bob") in keys
