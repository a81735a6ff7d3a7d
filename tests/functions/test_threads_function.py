"""GET|PUT|DELETE /api/chatkit/threads: ThreadsFunction in-process against moto's ThreadsTable."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from local.events import http_event
from tests.conftest import AwsResources

LIST = "/api/chatkit/threads"
ONE = "/api/chatkit/threads/{thread_id}"


@pytest.fixture
def threads(invoke):
    """``threads(method, thread_id=None, body=None, user_id=..., query=None)``: (status, body, headers)."""

    def call(
        method: str,
        thread_id: str | None = None,
        *,
        body: Any = None,
        user_id: str | None = "user-1",
        token_use: str = "user",
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        if thread_id is None:
            event = http_event(method, LIST, query=query, user_id=user_id, token_use=token_use)
        else:
            event = http_event(
                method,
                f"/api/chatkit/threads/{quote(thread_id, safe='')}",
                body=body,
                path_params={"thread_id": thread_id},
                route_key=f"{method} {ONE}",
                user_id=user_id,
                token_use=token_use,
            )
        result = invoke("ThreadsFunction", event)
        payload = json.loads(result["body"]) if result.get("body") else None
        return result["statusCode"], payload, result.get("headers", {})

    return call


def stored_items(aws: AwsResources) -> list[dict[str, Any]]:
    return aws.client("dynamodb").scan(TableName=aws.physical_id("ThreadsTable"))["Items"]


def test_put_records_a_thread_and_keeps_its_creation_time(threads) -> None:
    status, created, _ = threads("PUT", "cthr_abc", body={"title": "Groceries"})
    assert status == 200
    assert created["thread_id"] == "cthr_abc" and created["title"] == "Groceries"
    assert created["created_at"] == created["updated_at"]

    status, touched, _ = threads("PUT", "cthr_abc")
    assert status == 200
    assert touched["title"] == "Groceries"  # no title given: the stored one stays
    assert touched["created_at"] == created["created_at"]
    assert touched["updated_at"] > created["updated_at"]

    _, renamed, _ = threads("PUT", "cthr_abc", body={"title": "  Weekly shop "})
    assert renamed["title"] == "Weekly shop"


def test_threads_are_listed_newest_first_and_a_touched_thread_moves_up(threads) -> None:
    for n in range(3):
        threads("PUT", f"cthr_{n}", body={"title": f"thread {n}"})
    status, page, _ = threads("GET")
    assert status == 200
    assert [t["thread_id"] for t in page["threads"]] == ["cthr_2", "cthr_1", "cthr_0"]
    assert page["next_cursor"] is None
    assert set(page["threads"][0]) == {"thread_id", "title", "created_at", "updated_at"}

    threads("PUT", "cthr_0")
    _, page, _ = threads("GET")
    assert [t["thread_id"] for t in page["threads"]] == ["cthr_0", "cthr_2", "cthr_1"]


def test_pages_follow_next_cursor_through_every_thread_once(threads) -> None:
    created = [f"cthr_{n:02d}" for n in range(7)]
    for thread_id in created:
        threads("PUT", thread_id)

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        status, page, _ = threads("GET", query=query)
        assert status == 200 and len(page["threads"]) <= 3
        seen += [t["thread_id"] for t in page["threads"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    assert pages == 3


def test_delete_forgets_the_thread_and_a_second_delete_is_404(threads) -> None:
    threads("PUT", "cthr_abc")

    status, payload, _ = threads("DELETE", "cthr_abc")
    assert (status, payload) == (204, None)
    assert threads("GET")[1]["threads"] == []
    status, payload, _ = threads("DELETE", "cthr_abc")
    assert status == 404 and payload == {"detail": "No thread with id 'cthr_abc'."}


def test_users_never_see_or_touch_each_others_threads(threads, aws: AwsResources) -> None:
    threads("PUT", "cthr_alice", body={"title": "Alice's plans"}, user_id="alice")
    threads("PUT", "cthr_bob", body={"title": "Bob's plans"}, user_id="bob")

    assert [t["thread_id"] for t in threads("GET", user_id="alice")[1]["threads"]] == ["cthr_alice"]
    assert [t["thread_id"] for t in threads("GET", user_id="bob")[1]["threads"]] == ["cthr_bob"]
    # Bob deleting Alice's thread: 404, exactly as for a thread that does not exist.
    status, payload, _ = threads("DELETE", "cthr_alice", user_id="bob")
    assert (status, payload) == (404, {"detail": "No thread with id 'cthr_alice'."})
    # Bob writing to Alice's thread id makes a mapping of his own; hers is untouched.
    threads("PUT", "cthr_alice", body={"title": "Bob's copy"}, user_id="bob")
    [alices] = threads("GET", user_id="alice")[1]["threads"]
    assert alices["title"] == "Alice's plans"
    assert len(stored_items(aws)) == 3


def test_a_cursor_from_another_user_only_pages_within_the_callers_threads(threads) -> None:
    for n in range(3):
        threads("PUT", f"cthr_a{n}", body={"title": "alice"}, user_id="alice")
        threads("PUT", f"cthr_b{n}", body={"title": "bob"}, user_id="bob")
    alice_cursor = threads("GET", query={"limit": "1"}, user_id="alice")[1]["next_cursor"]

    status, page, _ = threads("GET", query={"cursor": alice_cursor}, user_id="bob")

    assert status == 200
    assert page["threads"] and {t["title"] for t in page["threads"]} == {"bob"}


BAD_THREAD_IDS = ["has space", "_underscore-first", "x" * 129, "dot.dot", "é", "a%2Fb"]


@pytest.mark.parametrize("thread_id", BAD_THREAD_IDS)
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_bad_thread_ids_are_422_and_change_nothing(
    threads, aws: AwsResources, method: str, thread_id: str
) -> None:
    threads("PUT", "cthr_keep")
    before = stored_items(aws)

    status, payload, _ = threads(method, thread_id)

    assert status == 422
    assert payload["detail"].startswith("thread_id is not valid")
    assert stored_items(aws) == before


@pytest.mark.parametrize(
    "body",
    [
        '{"title": ""}',
        '{"title": "   "}',
        json.dumps({"title": "x" * 201}),
        '{"title": 5}',
        '{"title": "Buy\\u0000milk"}',
        '{"title": "Buy\\u001b[2Jmilk"}',
        '{"title": "Buy\\ud800milk"}',
        '{"name": "x"}',
        "[]",
        "nope",
    ],
)
def test_bad_put_bodies_are_422_and_change_nothing(threads, aws: AwsResources, body: str) -> None:
    threads("PUT", "cthr_keep", body={"title": "kept"})
    before = stored_items(aws)

    status, payload, _ = threads("PUT", "cthr_keep", body=body)

    assert status == 422 and isinstance(payload["detail"], str)
    assert stored_items(aws) == before


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJ1c2VyX2lkIjp7IlMiOiJib2IifX0"},  # names a partition: refused
        {"cursor": "eyJ0aHJlYWRfaWQiOnsiUyI6ImEifX0"},  # thread_id only: not an index position
        {"cursor": "x" * 600},
    ],
)
def test_bad_list_queries_are_422(threads, query: dict[str, str]) -> None:
    status, payload, _ = threads("GET", query=query)
    assert status == 422 and isinstance(payload["detail"], str)


@pytest.mark.parametrize(
    ("method", "thread_id"), [("GET", None), ("PUT", "cthr_abc"), ("DELETE", "cthr_abc")]
)
def test_without_an_identity_every_route_is_401(
    threads, aws: AwsResources, method: str, thread_id: str | None
) -> None:
    status, payload, _ = threads(method, thread_id, user_id=None)
    assert (status, payload) == (401, {"detail": "Authentication required. Please log in."})
    assert stored_items(aws) == []


@pytest.mark.parametrize(
    ("method", "thread_id"), [("GET", None), ("PUT", "cthr_abc"), ("DELETE", "cthr_abc")]
)
def test_mcp_tokens_cannot_reach_threads(
    threads, aws: AwsResources, method: str, thread_id: str | None
) -> None:
    status, _, _ = threads(method, thread_id, token_use="mcp")
    assert status == 403
    assert stored_items(aws) == []
