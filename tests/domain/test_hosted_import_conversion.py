"""Each hosted ChatKit item type becomes the openai-chatkit item that shows the same thing.

Hosted items are parsed with the openai SDK's own models (as the import receives them); the
results are checked as ChatKit's server would serve them, and through the store's round trip.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from chatkit.types import (
    AssistantMessageItem,
    ClientToolCallItem,
    FileAttachment,
    TaskItem,
    ThreadItem,
    UserMessageItem,
    WidgetItem,
    WorkflowItem,
)
from chatkit_backend.errors import InvalidInput
from chatkit_backend.migration.convert import NotConvertible, convert_item, convert_thread, item_time
from chatkit_backend.migration.progress import ImportRequest, Totals
from openai.types.beta.chatkit import ChatKitThread
from openai.types.beta.chatkit.chatkit_thread_item_list import ChatKitThreadItemList
from pydantic import TypeAdapter

from local.standins.openai import CARD

THREAD = "cthr_0123456789abcdef"
WHEN = datetime(2026, 11, 1, 12, 0, 0, 7, tzinfo=UTC)
ITEM = TypeAdapter(ThreadItem)


def hosted(kind: str, **fields: Any) -> Any:
    """A hosted item as the SDK parses it from the wire."""
    raw = {
        "id": "cthi_1",
        "object": "chatkit.thread_item",
        "created_at": 1_793_000_000,
        "thread_id": THREAD,
        "type": f"chatkit.{kind}",
        **fields,
    }
    return ChatKitThreadItemList.model_validate({"object": "list", "data": [raw], "has_more": False}).data[0]


def convert(kind: str, **fields: Any) -> Any:
    item = convert_item(hosted(kind, **fields), THREAD, WHEN)
    assert ITEM.validate_json(ITEM.dump_json(item)) == item  # the store writes and reads it back unchanged
    assert (item.id, item.thread_id, item.created_at) == ("cthi_1", THREAD, WHEN)
    return item


def as_served(item: Any) -> dict[str, Any]:
    """What ChatKit's server sends a client (its own serialisation options)."""
    return json.loads(
        item.model_dump_json(by_alias=True, exclude_none=True, context={"exclude_metadata": True})
    )


def test_user_message_keeps_text_quote_attachments_and_options() -> None:
    item = convert(
        "user_message",
        content=[
            {"type": "quoted_text", "text": "boxes by Friday"},
            {"type": "input_text", "text": "Add "},
            {"type": "input_text", "text": "packing"},
        ],
        attachments=[
            {
                "id": "cfile_1",
                "mime_type": "image/png",
                "name": "receipt.png",
                "preview_url": "https://files.example/1.png",
                "type": "image",
            },
            {
                "id": "cfile_2",
                "mime_type": "application/pdf",
                "name": "plan.pdf",
                "preview_url": None,
                "type": "file",
            },
        ],
        inference_options={"model": "gpt-4.1-mini", "tool_choice": {"id": "add_task"}},
    )
    assert isinstance(item, UserMessageItem)
    assert [part.text for part in item.content] == ["Add ", "packing"]
    assert item.quoted_text == "boxes by Friday"
    assert [(a.name, a.mime_type, a.type) for a in item.attachments] == [
        ("receipt.png", "image/png", "file"),
        ("plan.pdf", "application/pdf", "file"),
    ]
    assert all(isinstance(a, FileAttachment) and a.thread_id == THREAD for a in item.attachments)
    assert item.attachments[0].metadata == {"imported_from": "hosted_chatkit", "hosted_type": "image"}
    assert (item.inference_options.model, item.inference_options.tool_choice.id) == (
        "gpt-4.1-mini",
        "add_task",
    )
    served = as_served(item)
    assert "metadata" not in served["attachments"][0] and "preview_url" not in served["attachments"][0]


def test_user_message_without_options_or_quote() -> None:
    item = convert(
        "user_message", content=[{"type": "input_text", "text": "hi"}], attachments=[], inference_options=None
    )
    assert (
        item.quoted_text,
        item.inference_options.model,
        item.inference_options.tool_choice,
        item.attachments,
    ) == (None, None, None, [])


def test_assistant_message_keeps_text_and_annotations() -> None:
    item = convert(
        "assistant_message",
        content=[
            {
                "type": "output_text",
                "text": "See the list.",
                "annotations": [
                    {"type": "url", "source": {"type": "url", "url": "https://example.com/list"}},
                    {"type": "file", "source": {"type": "file", "filename": "plan.pdf"}},
                ],
            },
            {"type": "output_text", "text": "Second part.", "annotations": []},
        ],
    )
    assert isinstance(item, AssistantMessageItem)
    assert [part.text for part in item.content] == ["See the list.", "Second part."]
    sources = [annotation.source for annotation in item.content[0].annotations]
    assert (sources[0].type, sources[0].url, sources[0].title) == (
        "url",
        "https://example.com/list",
        "https://example.com/list",
    )
    assert (sources[1].type, sources[1].filename, sources[1].title) == ("file", "plan.pdf", "plan.pdf")


def test_widget_the_sdk_accepts_is_kept() -> None:
    item = convert("widget", widget=json.dumps(CARD))
    assert isinstance(item, WidgetItem)
    assert as_served(item)["widget"] == CARD


@pytest.mark.parametrize(
    ("widget", "reason"),
    [
        pytest.param("{not json", "not JSON", id="not-json"),
        pytest.param(json.dumps(["Card"]), "not a JSON object", id="not-an-object"),
        pytest.param(json.dumps({"type": "Carousel", "items": []}), "'Carousel'", id="unknown-root"),
        pytest.param(json.dumps({"children": []}), "'None'", id="no-type"),
    ],
)
def test_widget_the_sdk_refuses_is_not_convertible(widget: str, reason: str) -> None:
    with pytest.raises(NotConvertible, match=reason):
        convert_item(hosted("widget", widget=widget), THREAD, WHEN)


def test_client_tool_call_keeps_call_arguments_and_output() -> None:
    done = convert(
        "client_tool_call",
        call_id="call_1",
        name="set_theme",
        arguments='{"theme": "dark"}',
        output='{"ok": true}',
        status="completed",
    )
    assert isinstance(done, ClientToolCallItem)
    assert (done.call_id, done.name, done.arguments, done.output, done.status) == (
        "call_1",
        "set_theme",
        {"theme": "dark"},
        {"ok": True},
        "completed",
    )
    running = convert(
        "client_tool_call", call_id="call_2", name="x", arguments="{}", output=None, status="in_progress"
    )
    assert (running.status, running.output) == ("pending", None)
    plain = convert(
        "client_tool_call",
        call_id="call_3",
        name="x",
        arguments="{}",
        output="done, no JSON",
        status="completed",
    )
    assert plain.output == "done, no JSON"


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [("{oops", "not JSON"), ("[1, 2]", "not a JSON object"), ('"text"', "not a JSON object")],
)
def test_client_tool_call_without_object_arguments_is_not_convertible(arguments: str, reason: str) -> None:
    with pytest.raises(NotConvertible, match=reason):
        convert_item(
            hosted(
                "client_tool_call",
                call_id="c",
                name="n",
                arguments=arguments,
                output=None,
                status="completed",
            ),
            THREAD,
            WHEN,
        )


def test_tasks_keep_heading_and_summary() -> None:
    custom = convert("task", task_type="custom", heading="Called add_task", summary="Pack the kitchen")
    assert isinstance(custom, TaskItem)
    assert (custom.task.type, custom.task.title, custom.task.content) == (
        "custom",
        "Called add_task",
        "Pack the kitchen",
    )
    thought = convert("task", task_type="thought", heading=None, summary=None)
    assert (thought.task.type, thought.task.title, thought.task.content) == ("thought", None, "")


def test_task_groups_become_workflows_of_the_same_tasks() -> None:
    reasoning = convert(
        "task_group",
        tasks=[
            {"type": "thought", "heading": "Plan", "summary": "3 rooms"},
            {"type": "thought", "summary": "Kitchen"},
        ],
    )
    assert isinstance(reasoning, WorkflowItem)
    assert (reasoning.workflow.type, reasoning.workflow.expanded) == ("reasoning", True)
    assert [(t.type, t.title, t.content) for t in reasoning.workflow.tasks] == [
        ("thought", "Plan", "3 rooms"),
        ("thought", None, "Kitchen"),
    ]
    mixed = convert(
        "task_group", tasks=[{"type": "custom", "heading": "Search"}, {"type": "thought", "summary": "ok"}]
    )
    assert mixed.workflow.type == "custom"
    assert convert("task_group", tasks=[]).workflow.tasks == []


@pytest.mark.parametrize("item_id", ["cthi 1", "cthi/../x", "", "x" * 129])
def test_an_item_id_the_store_refuses_is_not_convertible(item_id: str) -> None:
    # The SDK takes any string; ChatKitTable's keys take 1-128 letters, digits, _ and -.
    item = hosted("assistant_message", content=[])
    item.id = item_id
    with pytest.raises(NotConvertible, match="id"):
        convert_item(item, THREAD, WHEN)


def thread(**fields: Any) -> ChatKitThread:
    return ChatKitThread.model_validate(
        {
            "id": THREAD,
            "object": "chatkit.thread",
            "created_at": 1_793_000_000,
            "status": {"type": "active"},
            "title": "Groceries",
            "user": "alice",
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        ({"type": "active"}, "active", None),
        ({"type": "locked", "reason": "archived"}, "locked", "archived"),
        ({"type": "closed", "reason": None}, "closed", None),
    ],
)
def test_thread_keeps_id_title_time_and_status(status: dict[str, Any], kind: str, reason: str | None) -> None:
    metadata = convert_thread(thread(status=status))
    assert (metadata.id, metadata.title, metadata.created_at) == (
        THREAD,
        "Groceries",
        datetime(2026, 10, 26, 7, 33, 20, tzinfo=UTC),
    )
    assert (metadata.status.type, getattr(metadata.status, "reason", None)) == (kind, reason)


@pytest.mark.parametrize("user", ["", "   ", "u" * 257])
def test_thread_of_no_user_we_could_sign_in_is_not_convertible(user: str) -> None:
    with pytest.raises(NotConvertible, match="user"):
        convert_thread(thread(user=user))


def test_thread_id_the_store_refuses_is_not_convertible() -> None:
    with pytest.raises(NotConvertible, match="id"):
        convert_thread(thread(id="cthr_../../etc"))


def test_items_of_one_second_keep_their_order_and_later_seconds_stay_later() -> None:
    seconds = [100, 100, 100, 101, 101, 105, 105, 105, 105]
    stamps = [item_time(second, position) for position, second in enumerate(seconds)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(
        abs((stamp - datetime.fromtimestamp(second, UTC)).total_seconds()) < 0.001
        for stamp, second in zip(stamps, seconds)
    )
    # Even with more than a million items, the sum keeps growing.
    assert item_time(100, 999_999) < item_time(101, 1_000_000) < item_time(101, 1_000_001)


@pytest.mark.parametrize(
    ("event", "says"),
    [
        pytest.param([], "JSON object", id="not-an-object"),
        pytest.param({"users": "alice"}, "Unknown field(s) users", id="unknown-field"),
        pytest.param({"user": ""}, "user must be", id="empty-user"),
        pytest.param({"user": 7}, "user must be", id="user-not-a-string"),
        pytest.param({"user": "u" * 257}, "user must be", id="user-too-long"),
        pytest.param({"dry_run": "yes"}, "dry_run must be", id="dry-run-not-bool"),
        pytest.param({"continuation": "not a token"}, "continuation is not", id="garbage-token"),
        pytest.param({"continuation": 12}, "continuation is not", id="token-not-a-string"),
        pytest.param({"continuation": "eyJ2IjoyfQ"}, "continuation is not", id="token-of-another-version"),
        pytest.param({"continuation": "x" * 5000}, "continuation is not", id="token-too-long"),
    ],
)
def test_bad_events_are_refused_with_what_to_fix(event: Any, says: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(says)):
        ImportRequest.from_event(event)


def test_a_continuation_carries_the_run_and_its_totals() -> None:
    request = ImportRequest.from_event({"user": "alice", "dry_run": True})
    totals = Totals()
    totals.threads["imported"] = 3
    totals.items_imported = 42
    totals.items_failed["chatkit.widget"] = 1
    token = request.token("cthr_abc", totals)
    resumed = ImportRequest.from_event({"continuation": token})
    assert (resumed.user, resumed.dry_run, resumed.after) == ("alice", True, "cthr_abc")
    assert Totals.from_dict(resumed.totals).as_dict() == totals.as_dict()
    assert ImportRequest.from_event({"continuation": token, "user": "alice"}).after == "cthr_abc"
    with pytest.raises(InvalidInput, match="must match"):
        ImportRequest.from_event({"continuation": token, "user": "bob"})
    with pytest.raises(InvalidInput, match="must match"):
        ImportRequest.from_event({"continuation": token, "dry_run": False})


def test_the_summary_names_every_count() -> None:
    totals = Totals()
    totals.threads.update(imported=2, unchanged=1, failed=1)
    totals.items_imported, totals.items_unchanged = 10, 3
    totals.items_failed.update({"chatkit.widget": 2})
    assert totals.summary() == (
        "threads: 2 imported, 0 updated, 1 unchanged, 0 skipped, 1 failed; "
        "items: 10 imported, 3 skipped (already here), 2 failed (chatkit.widget ×2: not convertible)"
    )
    assert totals.summary(dry_run=True).endswith("[dry run: nothing was written]")


@pytest.mark.parametrize(
    ("title", "stored"),
    [
        ("Groceries", "Groceries"),
        ("Tab\tand\nnewline", "Tab and newline"),
        ("Bell\x07 and NUL\x00", "Bell and NUL"),
        ("x" * 250, "x" * 199 + "…"),
        ("\x00\x01", None),
        (None, None),
    ],
)
def test_titles_follow_this_apis_title_rules(title: str | None, stored: str | None) -> None:
    assert convert_thread(thread(title=title)).title == stored


def test_an_item_too_large_to_store_is_not_convertible() -> None:
    huge = hosted(
        "assistant_message", content=[{"type": "output_text", "text": "x" * (400 * 1024), "annotations": []}]
    )
    with pytest.raises(NotConvertible, match="KiB"):
        convert_item(huge, THREAD, WHEN)
    fits = hosted(
        "assistant_message", content=[{"type": "output_text", "text": "x" * (300 * 1024), "annotations": []}]
    )
    assert len(convert_item(fits, THREAD, WHEN).content[0].text) == 300 * 1024


def test_text_with_lone_surrogates_is_not_convertible() -> None:
    broken = hosted(
        "user_message",
        content=[{"type": "input_text", "text": "bad \ud800 text"}],
        attachments=[],
        inference_options=None,
    )
    with pytest.raises(NotConvertible, match="surrogates"):
        convert_item(broken, THREAD, WHEN)
