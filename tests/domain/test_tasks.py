"""The task service against DynamoDB (moto): one request per operation, conditional writes,
pages that stay inside the caller's partition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from chatkit_backend.aws.clients import client
from chatkit_backend.aws.cursor import encode_cursor
from chatkit_backend.errors import InvalidInput, NotConfigured, TaskNotFound
from chatkit_backend.tasks import service as tasks

from tests.support.tasks import task_service


@pytest.fixture
def table(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    client.cache_clear()
    name = aws.physical_id("TasksTable")
    monkeypatch.setenv("TASKS_TABLE", name)
    yield name
    client.cache_clear()


@pytest.fixture
def calls(table: str) -> list[str]:
    """Names of the DynamoDB operations the service sends, recorded by botocore's event hooks."""
    seen: list[str] = []
    client("dynamodb").meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: seen.append(model.name)
    )
    return seen


def items(aws: Any, table: str) -> list[dict[str, Any]]:
    return aws.client("dynamodb").scan(TableName=table)["Items"]


def test_add_task_is_one_conditional_put_and_returns_a_pending_task(calls: list[str]) -> None:
    task = task_service().add_task("alice", "  Buy milk ", "2 litres")

    assert calls == ["PutItem"]
    assert (task.title, task.description, task.status) == ("Buy milk", "2 litres", "pending")
    assert len(task.task_id) == 26


def test_task_ids_sort_by_creation_time() -> None:
    earlier = tasks.new_task_id(now_ms=1_700_000_000_000)
    later = tasks.new_task_id(now_ms=1_700_000_000_001)
    assert earlier < later
    assert len({tasks.new_task_id(now_ms=1) for _ in range(1000)}) == 1000


def test_each_operation_is_exactly_one_request(calls: list[str]) -> None:
    task = task_service().add_task("alice", "Write report")
    task_service().list_tasks("alice")
    task_service().list_tasks("alice", status="pending")
    task_service().complete_task("alice", task.task_id)
    task_service().update_task("alice", task.task_id, title="Write the report")
    task_service().delete_task("alice", task.task_id)

    assert calls == ["PutItem", "Query", "Query", "UpdateItem", "UpdateItem", "DeleteItem"]


def test_list_pages_in_creation_order_and_filters_by_status(table: str) -> None:
    ids = [task_service().add_task("alice", f"task {n}").task_id for n in range(5)]
    task_service().complete_task("alice", ids[1])
    task_service().complete_task("alice", ids[3])

    first = task_service().list_tasks("alice", limit=2)
    second = task_service().list_tasks("alice", limit=2, cursor=first.next_cursor)
    third = task_service().list_tasks("alice", limit=2, cursor=second.next_cursor)
    assert [t.task_id for t in first.tasks + second.tasks + third.tasks] == ids
    assert third.next_cursor is None

    pending = task_service().list_tasks("alice", status="pending", limit=2)
    assert [t.task_id for t in pending.tasks] == [ids[0], ids[2]]
    rest = task_service().list_tasks("alice", status="pending", limit=2, cursor=pending.next_cursor)
    assert [t.task_id for t in rest.tasks] == [ids[4]]
    completed = task_service().list_tasks("alice", status="completed")
    assert [(t.task_id, t.status) for t in completed.tasks] == [(ids[1], "completed"), (ids[3], "completed")]


def test_users_never_see_or_change_each_others_tasks(aws: Any, table: str) -> None:
    bobs = task_service().add_task("bob", "Bob's secret")
    task_service().add_task("alice", "Alice's task")
    before = items(aws, table)

    assert [t.title for t in task_service().list_tasks("alice").tasks] == ["Alice's task"]
    for operation in (
        lambda: task_service().complete_task("alice", bobs.task_id),
        lambda: task_service().update_task("alice", bobs.task_id, title="hijacked"),
        lambda: task_service().delete_task("alice", bobs.task_id),
    ):
        with pytest.raises(TaskNotFound):
            operation()
    assert items(aws, table) == before


def test_a_cursor_cannot_reach_another_users_partition(table: str) -> None:
    for n in range(3):
        task_service().add_task("bob", f"bob {n}")
    task_service().add_task("alice", "alice 0")
    bob_page = task_service().list_tasks("bob", limit=1)

    # Bob's cursor in Alice's hands moves within Alice's partition only.
    page = task_service().list_tasks("alice", cursor=bob_page.next_cursor)
    assert all(t.title.startswith("alice") for t in page.tasks)
    forged = encode_cursor({"user_id": {"S": "bob"}, "task_id": {"S": "0"}})
    assert all(t.title.startswith("alice") for t in task_service().list_tasks("alice", cursor=forged).tasks)


@pytest.mark.parametrize(
    "status, cursor_status",
    [("all", "pending"), ("pending", "all"), ("pending", "completed")],
)
def test_a_cursor_from_another_listing_is_refused(table: str, status: str, cursor_status: str) -> None:
    ids = [task_service().add_task("alice", f"t{n}").task_id for n in range(4)]
    task_service().complete_task("alice", ids[0])
    task_service().complete_task("alice", ids[1])
    cursor = task_service().list_tasks("alice", status=cursor_status, limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidInput, match="cursor"):
        task_service().list_tasks("alice", status=status, cursor=cursor)


@pytest.mark.parametrize(
    "call",
    [
        lambda: task_service().add_task("alice", ""),
        lambda: task_service().add_task("alice", "   "),
        lambda: task_service().add_task("alice", "x" * 201),
        lambda: task_service().add_task("alice", 42),
        lambda: task_service().add_task("alice", "ok", "d" * 1001),
        lambda: task_service().list_tasks("alice", status="done"),
        lambda: task_service().list_tasks("alice", limit=0),
        lambda: task_service().list_tasks("alice", limit=101),
        lambda: task_service().list_tasks("alice", limit=True),
        lambda: task_service().list_tasks("alice", cursor="not a cursor"),
        lambda: task_service().list_tasks("alice", cursor=7),
        lambda: task_service().update_task("alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        lambda: task_service().update_task("alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV", title=""),
        lambda: task_service().complete_task("alice", "no-such-id"),
        lambda: task_service().complete_task("alice", None),
        lambda: task_service().delete_task("alice", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
    ],
)
def test_rejected_input_changes_nothing(aws: Any, table: str, calls: list[str], call: Any) -> None:
    task_service().add_task("alice", "keep me")
    before = items(aws, table)
    calls.clear()
    with pytest.raises((InvalidInput, TaskNotFound)):
        call()
    assert items(aws, table) == before
    assert calls in (
        [],
        ["UpdateItem"],
        ["DeleteItem"],
    )  # a well-formed unknown id costs one conditional write


def test_complete_is_idempotent_and_keeps_the_first_completion_time(table: str) -> None:
    task = task_service().add_task("alice", "Once")
    first = task_service().complete_task("alice", task.task_id.lower())
    again = task_service().complete_task("alice", task.task_id)
    assert first.status == again.status == "completed"
    assert first.completed_at == again.completed_at


def test_update_changes_only_what_is_given_and_empty_description_removes_it(table: str) -> None:
    task = task_service().add_task("alice", "Title", "Details")
    retitled = task_service().update_task("alice", task.task_id, title="New title")
    assert (retitled.title, retitled.description) == ("New title", "Details")
    cleared = task_service().update_task("alice", task.task_id, description="")
    assert (cleared.title, cleared.description) == ("New title", None)


def test_delete_returns_the_deleted_task_and_a_second_delete_is_not_found(aws: Any, table: str) -> None:
    task = task_service().add_task("alice", "Gone soon")
    assert task_service().delete_task("alice", task.task_id).title == "Gone soon"
    with pytest.raises(TaskNotFound, match="list_tasks"):
        task_service().delete_task("alice", task.task_id)
    assert items(aws, table) == []


def test_a_missing_table_setting_says_which_setting(aws: Any) -> None:
    with pytest.raises(NotConfigured, match="TASKS_TABLE"):
        tasks.TaskService(table="").list_tasks("alice")
