"""Task widgets in the chat, and their Complete buttons handled by the server (in-process, moto).

The agent's tools show a task list or a card; a button's ``threads.custom_action`` (and
``threads.sync_custom_action``) completes the task for the caller only, re-renders the widget in
place and tells the model. Every other user's thread, item or task is a 404 that changes nothing.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from chatkit_backend.aws import clients as aws_clients

from local.standins.openai import FakeResponses, call, last_tool_output, text
from tests.support.chatkit_app import create_thread, send, sse_events, user_message
from tests.support.emf import emf_lines, metric
from tests.support.tasks import task_service


def widget_items(app: Any, thread_id: str, user: str = "alice") -> list[dict[str, Any]]:
    items = send(
        app, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}, user
    ).json()["data"]
    return [item for item in items if item["type"] == "widget"]


def rows(widget: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in widget["children"]}


def buttons(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [button for child in node for button in buttons(child)]
    if not isinstance(node, dict):
        return []
    found = [node] if node.get("type") == "Button" else []
    return found + buttons(node.get("children"))


def texts(node: Any) -> list[str]:
    if isinstance(node, list):
        return [value for child in node for value in texts(child)]
    if not isinstance(node, dict):
        return []
    own = [node["value"]] if node.get("type") in ("Text", "Caption") else []
    return own + texts(node.get("children"))


@pytest.fixture
def listed(app: Any, fake: FakeResponses) -> dict[str, Any]:
    """Alice's thread after the agent listed her tasks: two pending (one with a description), one done."""
    milk = task_service().add_task("alice", "Buy milk", "2 litres")
    mom = task_service().add_task("alice", "Call mom")
    done = task_service().add_task("alice", "Pay rent")
    task_service().complete_task("alice", done.task_id)
    fake.script(call("list_tasks"), text("Here they are."))
    thread_id, events = create_thread(app, "what do I have to do?")
    [widget_item] = widget_items(app, thread_id)
    return {
        "thread_id": thread_id,
        "events": events,
        "item": widget_item,
        "milk": milk,
        "mom": mom,
        "done": done,
    }


def action(
    thread_id: str, item_id: str | None, task_id: Any, kind: str = "threads.custom_action"
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "thread_id": thread_id,
        "action": {"type": "task.complete", "payload": {"task_id": task_id}},
    }
    if item_id is not None:
        params["item_id"] = item_id
    return {"type": kind, "params": params}


@pytest.fixture
def dynamodb_calls(app: Any) -> Iterator[list[tuple[str, str, bool]]]:
    """Every DynamoDB request the app makes: (operation, table, conditional?)."""
    seen: list[tuple[str, str, bool]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        table = params.get("TableName") or ",".join(params.get("RequestItems", {}))
        seen.append((model.name, table.rsplit("-", 1)[-1], "ConditionExpression" in params))

    # The usage counter has a fail-fast client of its own: count its requests too.
    clients = [aws_clients.client("dynamodb"), aws_clients.client("dynamodb", fail_fast=True)]
    for client in clients:
        client.meta.events.register("before-parameter-build.dynamodb", record)
    yield seen
    for client in clients:
        client.meta.events.unregister("before-parameter-build.dynamodb", record)


def test_list_tasks_shows_a_widget_with_a_complete_button_per_pending_task(
    listed: dict[str, Any], fake: FakeResponses
) -> None:
    kinds = [event["type"] for event in listed["events"]]
    assert "progress_update" in kinds and kinds.index("progress_update") < kinds.index("thread.item.done", 2)
    widget = listed["item"]["widget"]
    assert widget["type"] == "ListView" and "3 shown, 2 pending" in widget["status"]["text"]
    by_task = rows(widget)
    milk, mom, done = (by_task[listed[name].task_id] for name in ("milk", "mom", "done"))
    assert (
        texts(milk) == ["Buy milk", "2 litres"] and texts(mom) == ["Call mom"] and texts(done) == ["Pay rent"]
    )
    for row, task in ((milk, listed["milk"]), (mom, listed["mom"])):
        [button] = buttons(row)
        assert button["onClickAction"] == {
            "type": "task.complete",
            "handler": "server",
            "payload": {"task_id": task.task_id},
            "loadingBehavior": "auto",
            "streaming": True,
        }
    assert buttons(done) == [] and any(child.get("label") == "Done" for child in done["children"])
    assert listed["item"]["copy_text"] == "☐ Buy milk — 2 litres\n☐ Call mom\n☑ Pay rent"
    # The model got the tool's JSON, and never the widget's JSON.
    assert [t["title"] for t in last_tool_output(fake.requests[1])["tasks"]] == [
        "Buy milk",
        "Call mom",
        "Pay rent",
    ]
    assert "ListView" not in json.dumps(fake.requests[1]["input"])


def test_the_complete_button_completes_the_task_and_updates_the_widget_in_place(
    app: Any,
    fake: FakeResponses,
    listed: dict[str, Any],
    dynamodb_calls: list[tuple[str, str, bool]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    dynamodb_calls.clear()
    capsys.readouterr()
    response = send(app, action(listed["thread_id"], listed["item"]["id"], listed["milk"].task_id))
    assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
    events = sse_events(response)
    assert [e["type"] for e in events] == ["stream_options", "thread.item.replaced", "client_effect"]
    replaced = events[1]["item"]
    assert replaced["id"] == listed["item"]["id"] and replaced["type"] == "widget"
    milk, mom = (
        rows(replaced["widget"])[listed["milk"].task_id],
        rows(replaced["widget"])[listed["mom"].task_id],
    )
    assert buttons(milk) == [] and texts(milk) == ["Buy milk", "2 litres"] and len(buttons(mom)) == 1
    assert "1 pending" in replaced["widget"]["status"]["text"]
    assert events[2] == {
        "type": "client_effect",
        "name": "tasks.changed",
        "data": {"task_id": listed["milk"].task_id, "status": "completed"},
    }
    # The operators see the click (one line, by action type) and the turn it counted.
    lines = emf_lines(capsys.readouterr().out)
    assert (
        len(metric(lines, "WidgetActions", action="task.complete")) == 1
        and len(metric(lines, "ChatTurns")) == 1
    )
    # The task changed with one conditional request. Before it: the request check reads the
    # sender (a widget of the caller's?), the per-minute limit counts the click (a conditional
    # update), then ChatKit reads the thread and the widget; after it, ChatKit stores the new
    # widget and the note for the model.
    assert dynamodb_calls == [
        ("GetItem", "ChatKitTable", False),
        ("UpdateItem", "UsageTable", True),
        ("GetItem", "ChatKitTable", False),
        ("GetItem", "ChatKitTable", False),
        ("UpdateItem", "TasksTable", True),
        ("PutItem", "ChatKitTable", False),
        ("PutItem", "ChatKitTable", False),
    ]
    assert {t.title for t in task_service().list_tasks("alice", "completed").tasks} == {
        "Buy milk",
        "Pay rent",
    }
    # Reloading the thread shows the new state; the model is told on its next turn.
    [stored] = widget_items(app, listed["thread_id"])
    assert stored["widget"] == replaced["widget"]
    fake.script(text("Nice."))
    send(
        app,
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": listed["thread_id"], "input": user_message("thanks")},
        },
    )
    history = json.dumps(fake.requests[-1]["input"], ensure_ascii=False)
    assert f"The user completed the task 'Buy milk' (task_id {listed['milk'].task_id})" in history
    assert f"Buy milk — 2 litres [Done] (task_id {listed['milk'].task_id})" in history


def test_a_sync_action_completes_the_task_and_returns_the_updated_widget(
    app: Any, listed: dict[str, Any]
) -> None:
    response = send(
        app,
        action(
            listed["thread_id"], listed["item"]["id"], listed["mom"].task_id, "threads.sync_custom_action"
        ),
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    updated = response.json()["updated_item"]
    assert (
        updated["id"] == listed["item"]["id"]
        and buttons(rows(updated["widget"])[listed["mom"].task_id]) == []
    )
    assert widget_items(app, listed["thread_id"])[0]["widget"] == updated["widget"]
    assert [t.title for t in task_service().list_tasks("alice", "pending").tasks] == ["Buy milk"]


def test_an_action_without_a_widget_shows_a_card(app: Any, listed: dict[str, Any]) -> None:
    events = sse_events(send(app, action(listed["thread_id"], None, listed["mom"].task_id)))
    assert [e["type"] for e in events] == ["stream_options", "thread.item.done", "client_effect"]
    card = events[1]["item"]
    assert card["widget"]["type"] == "Card" and card["copy_text"] == "☑ Call mom"
    assert len(widget_items(app, listed["thread_id"])) == 2


ISOLATION = [
    pytest.param("bob", "thread", "item", "milk", "No item", id="another user's thread"),
    pytest.param("alice", "thread", "bob_item", "milk", "No item", id="another user's widget in my thread"),
    pytest.param("alice", "thread", "item", "bob_task", "No task", id="another user's task from my widget"),
    pytest.param("bob", "bob_thread", "bob_item", "milk", "No task", id="my task from another user's widget"),
    pytest.param(
        "alice", "thread", "item", "01JQ7Z8X9Y0ABCDEFGHJKMNPQR", "No task", id="a task that does not exist"
    ),
]


@pytest.mark.parametrize("kind", ["threads.custom_action", "threads.sync_custom_action"])
@pytest.mark.parametrize(("user", "thread", "item", "task", "detail"), ISOLATION)
def test_an_action_on_what_is_not_the_callers_changes_nothing(
    app: Any,
    fake: FakeResponses,
    listed: dict[str, Any],
    kind: str,
    user: str,
    thread: str,
    item: str,
    task: str,
    detail: str,
) -> None:
    bob_task = task_service().add_task("bob", "Bob's secret")
    fake.script(call("list_tasks"), text("Yours."))
    bob_thread, _ = create_thread(app, "list", "bob")
    [bob_item] = widget_items(app, bob_thread, "bob")
    ids = {
        "thread": listed["thread_id"],
        "bob_thread": bob_thread,
        "item": listed["item"]["id"],
        "bob_item": bob_item["id"],
        "milk": listed["milk"].task_id,
        "bob_task": bob_task.task_id,
    }
    response = send(app, action(ids[thread], ids[item], ids.get(task, task), kind), user)
    assert response.status_code == 404 and detail in response.json()["detail"]
    assert [t.status for t in task_service().list_tasks("alice").tasks] == ["pending", "pending", "completed"]
    assert task_service().list_tasks("bob").tasks[0].status == "pending"
    assert widget_items(app, listed["thread_id"]) == [listed["item"]] and widget_items(
        app, bob_thread, "bob"
    ) == [bob_item]


@pytest.mark.parametrize(
    ("tool", "arguments", "caption", "copy_text", "has_button"),
    [
        ("add_task", {"title": "Water plants"}, "Added", "☐ Water plants", True),
        ("complete_task", {}, "Completed", "☑ Feed cat", False),
        (
            "update_task",
            {"title": "Feed the cat", "description": "twice"},
            "Updated",
            "☐ Feed the cat — twice",
            True,
        ),
        ("delete_task", {}, "Deleted", "✕ Feed cat", False),
    ],
)
def test_every_change_shows_a_compact_card(
    app: Any,
    fake: FakeResponses,
    tool: str,
    arguments: dict[str, Any],
    caption: str,
    copy_text: str,
    has_button: bool,
) -> None:
    task = task_service().add_task("alice", "Feed cat")
    if tool != "add_task":
        arguments = {"task_id": task.task_id, **arguments}
    fake.script(call(tool, **arguments), text("Done."))
    _, events = create_thread(app, "please")
    [card] = [e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == "widget"]
    assert card["widget"]["type"] == "Card" and card["copy_text"] == copy_text
    assert texts(card["widget"])[0] == caption
    assert bool(buttons(card["widget"])) is has_button


def test_a_tool_error_shows_no_widget(app: Any, fake: FakeResponses) -> None:
    fake.script(call("complete_task", task_id="01JQ7Z8X9Y0ABCDEFGHJKMNPQR"), text("Sorry."))
    thread_id, _ = create_thread(app, "done with it")
    assert widget_items(app, thread_id) == []


def test_our_widgets_use_no_deprecated_widget_class(app: Any) -> None:
    from chatkit_backend.chat import widgets

    task = task_service().add_task("alice", "Buy milk")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        built = [
            widgets.task_list([task], "Your tasks (1 shown, 1 pending)"),
            widgets.task_card(task, "created"),
        ]
        updated = widgets.with_task(built[0], task_service().complete_task("alice", task.task_id))
    assert {type(widget).__name__ for widget in [*built, updated]} == {"DynamicWidgetRoot"}


@pytest.mark.parametrize("stored", [False, True], ids=["as built", "read back from ChatKitTable"])
def test_the_model_and_the_user_read_a_widget_the_same_however_it_was_loaded(app: Any, stored: bool) -> None:
    """A widget of the history comes back from the store as ChatKit's named component classes, a
    fresh one is a dynamic component with extra fields: both must read the same."""
    from datetime import datetime

    from chatkit.types import WidgetItem
    from chatkit_backend.chat import widgets
    from chatkit_backend.chat.store.items import ITEM_ADAPTER as _ITEM

    milk = task_service().add_task("alice", "Buy milk", "2 litres")
    rent = task_service().complete_task("alice", task_service().add_task("alice", "Pay rent").task_id)
    shown = {
        "list": widgets.task_list([milk, rent], "Your tasks (2 shown, 1 pending)"),
        "card": widgets.task_card(rent, "completed"),
    }
    if stored:
        shown = {
            name: _ITEM.validate_json(
                _ITEM.dump_json(WidgetItem(id="w", thread_id="t", created_at=datetime.now(), widget=widget))  # noqa: DTZ005 - ChatKit's items carry naive times
            ).widget
            for name, widget in shown.items()
        }
    assert widgets.summarize(shown["list"]) == (
        "The user was shown a task list:\n"
        f"- Buy milk — 2 litres [pending, with a Complete button] (task_id {milk.task_id})\n"
        f"- Pay rent [Done] (task_id {rent.task_id})"
    )
    assert widgets.copy_text(shown["list"]) == "☐ Buy milk — 2 litres\n☑ Pay rent"
    assert widgets.summarize(shown["card"]) == (
        f"The user was shown a task card:\n- Pay rent [Done] (task_id {rent.task_id})"
    )
