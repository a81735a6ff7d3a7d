"""GET|PUT|DELETE /api/chatkit/threads: ThreadsFunction in-process against moto's ChatKitTable.

The threads are made the way users make them: through ChatKitFunction's own app (``threads.create``
with the model stand-in), plus a thread imported from hosted ChatKit as the import writes it. The
list is checked against what ChatKit's ``threads.list`` answers on /chatkit for the same user.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from chatkit.types import ThreadMetadata, UserMessageItem, UserMessageTextContent
from chatkit_backend.auth.identity import USER_TOKEN_ONLY
from chatkit_backend.chat.store.context import IMPORTED_METADATA, RequestContext
from chatkit_backend.migration.store import ImportStore

from local.emulator.events import http_event
from tests.conftest import AwsResources
from tests.support.chatkit_app import (
    attach,
    create_thread,
    create_thread_with,
    message_with,
    objects,
    send,
    table_items,
)

LIST = "/api/chatkit/threads"
ONE = "/api/chatkit/threads/{thread_id}"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
SESSION_EXPIRES_AT = 4102444800


@pytest.fixture
def threads(invoke):
    """``threads(method, thread_id=None, body=None, user_id=..., query=None)``: (status, body, headers)."""

    def call(
        method: str,
        thread_id: str | None = None,
        *,
        body: Any = None,
        user_id: str | None = "alice",
        token_use: str = "user",
        query: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        expires_at = SESSION_EXPIRES_AT if token_use == "session" else None
        if thread_id is None:
            event = http_event(
                method, LIST, query=query, user_id=user_id, token_use=token_use, expires_at=expires_at
            )
        else:
            event = http_event(
                method,
                f"/api/chatkit/threads/{quote(thread_id, safe='')}",
                body=body,
                path_params={"thread_id": thread_id},
                route_key=f"{method} {ONE}",
                user_id=user_id,
                token_use=token_use,
                expires_at=expires_at,
            )
        result = invoke("ThreadsFunction", event)
        payload = json.loads(result["body"]) if result.get("body") else None
        return result["statusCode"], payload, result.get("headers", {})

    return call


def chatkit(app: Any, request: str, user: str = "alice", **params: Any) -> Any:
    """One non-streaming ChatKit request on /chatkit, as the user's widget sends it."""
    response = send(app, {"type": request, "params": params}, user)
    assert response.status_code == 200, response.text
    return response.json()


def import_hosted_thread(aws: AwsResources, user: str, thread_id: str, title: str, created: datetime) -> None:
    """A thread imported from hosted ChatKit, written as ImportHostedThreadsFunction writes it."""
    store = ImportStore(aws.physical_id("ChatKitTable"))
    thread = ThreadMetadata(id=thread_id, title=title, created_at=created, metadata=dict(IMPORTED_METADATA))
    item = UserMessageItem(
        id="cthi_1",
        thread_id=thread_id,
        created_at=created,
        content=[UserMessageTextContent(text="hello from before")],
        inference_options={},
    )
    mark = {"items": 1, "resume_after": None, "resume_position": 0, "title": title}
    asyncio.run(
        store.save_imported(thread_id, [item], RequestContext(user_id=user), thread=thread, mark=mark)
    )


def listed(threads: Any, user: str, limit: int) -> list[tuple[list[tuple[str, str | None]], str | None]]:
    """Every page of GET /api/chatkit/threads: (thread ids and titles, next_cursor)."""
    pages, cursor = [], None
    while True:
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        status, page, _ = threads("GET", query=query, user_id=user)
        assert status == 200
        pages.append(([(t["thread_id"], t["title"]) for t in page["threads"]], page["next_cursor"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def chatkit_listed(app: Any, user: str, limit: int) -> list[tuple[list[tuple[str, str | None]], str | None]]:
    """Every page of ChatKit's threads.list on /chatkit: (thread ids and titles, after)."""
    pages, after = [], None
    while True:
        page = chatkit(app, "threads.list", user, limit=limit, **({"after": after} if after else {}))
        pages.append(
            ([(t["id"], t.get("title")) for t in page["data"]], page["after"] if page["has_more"] else None)
        )
        after = page["after"] if page["has_more"] else None
        if after is None:
            return pages


def test_the_list_is_what_chatkits_threads_list_shows_for_each_user(
    app: Any, threads: Any, aws: AwsResources
) -> None:
    import_hosted_thread(
        aws, "alice", "cthr_68e5b0c8a6b88190", "Before the move", datetime(2026, 11, 1, tzinfo=UTC)
    )
    for message in ("Buy milk", "Plan the week", "Call mom"):
        create_thread(app, message, "alice")
    for message in ("Water the plants", "Book a dentist"):
        create_thread(app, message, "bob")
    retitled = create_thread(app, "Pay rent", "bob")[0]
    chatkit(app, "threads.update", "bob", thread_id=retitled, title="Rent, due Friday")

    for user, count in (("alice", 4), ("bob", 3)):
        pages = listed(threads, user, limit=2)
        assert pages == chatkit_listed(app, user, limit=2)
        assert len(pages) == 2 and sum(len(ids) for ids, _ in pages) == count
    alice = [entry for ids, _ in listed(threads, "alice", 2) for entry in ids]
    assert [title for _, title in alice] == ["Call mom", "Plan the week", "Buy milk", "Before the move"]
    assert alice[-1][0] == "cthr_68e5b0c8a6b88190"
    bob = [entry for ids, _ in listed(threads, "bob", 10) for entry in ids]
    assert bob[0] == (retitled, "Rent, due Friday")
    assert not {thread_id for thread_id, _ in alice} & {thread_id for thread_id, _ in bob}


def test_each_thread_carries_its_creation_time_in_utc(app: Any, threads: Any, aws: AwsResources) -> None:
    import_hosted_thread(aws, "alice", "cthr_1", "Imported", datetime(2026, 11, 1, 8, 30, tzinfo=UTC))
    created = datetime.now(UTC)
    thread_id = create_thread(app, "Buy milk", "alice")[0]

    _, page, _ = threads("GET")

    new, imported = page["threads"]
    assert new["thread_id"] == thread_id and new["title"] == "Buy milk"
    stamped = datetime.strptime(new["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((stamped - created).total_seconds()) < 5
    assert new["updated_at"] == new["created_at"]
    assert imported == {
        "thread_id": "cthr_1",
        "title": "Imported",
        "created_at": "2026-11-01T08:30:00.000000Z",
        "updated_at": "2026-11-01T08:30:00.000000Z",
    }


def test_delete_removes_what_threads_delete_removes(
    app: Any, threads: Any, aws: AwsResources, fake: Any
) -> None:
    photo = attach(app, "list.png", "image/png", PNG)
    kept_photo = attach(app, "kept.png", "image/png", PNG)
    doomed, events = create_thread_with(app, message_with("what is on this list?", photo["id"]))
    kept, _ = create_thread_with(app, message_with("and this one?", kept_photo["id"]))
    answer = next(
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    )
    chatkit(app, "items.feedback", thread_id=doomed, item_ids=[answer["id"]], kind="positive")
    import_hosted_thread(aws, "alice", "cthr_imported", "Imported", datetime(2026, 11, 1, tzinfo=UTC))

    for thread_id in (doomed, "cthr_imported"):
        status, payload, _ = threads("DELETE", thread_id)
        assert (status, payload) == (204, None)

    assert [t["id"] for t in chatkit(app, "threads.list")["data"]] == [kept]
    assert send(app, {"type": "items.list", "params": {"thread_id": doomed}}).status_code == 404
    assert list(objects(aws)) == [f"users/alice/{kept_photo['id']}"]
    alices = [item["sk"]["S"] for item in table_items(aws, "ChatKitTable") if item["user_id"]["S"] == "alice"]
    # Nothing of the thread is left: no thread, item, feedback or attachment record.
    assert not [sk for sk in alices if doomed in sk or photo["id"] in sk]
    assert f"attachment#{kept_photo['id']}" in alices
    # The import mark stays, so a later import does not bring the deleted thread back.
    assert [sk for sk in alices if "cthr_imported" in sk] == ["hosted#cthr_imported"]
    assert threads("DELETE", doomed)[0] == 404


def test_another_users_thread_is_404_to_delete_and_stays(app: Any, threads: Any, aws: AwsResources) -> None:
    thread_id = create_thread(app, "Buy milk", "alice")[0]
    before = table_items(aws, "ChatKitTable")

    status, payload, _ = threads("DELETE", thread_id, user_id="bob")

    assert (status, payload) == (404, {"detail": f"No thread with id '{thread_id}'."})
    assert table_items(aws, "ChatKitTable") == before
    assert [t["id"] for t in chatkit(app, "threads.list")["data"]] == [thread_id]


@pytest.mark.parametrize(
    "thread_id", ["thr_never_made", "cthr_unknown", "has space", "x" * 129, "dot.dot", "é"]
)
def test_an_unknown_or_malformed_thread_is_404_to_delete(threads: Any, thread_id: str) -> None:
    status, payload, _ = threads("DELETE", thread_id)

    assert status == 404 and payload["detail"].startswith("No thread with id")


@pytest.mark.parametrize("body", [None, {"title": "Groceries"}, "not json"])
def test_put_is_gone_and_says_what_replaced_it(threads: Any, aws: AwsResources, body: Any) -> None:
    status, payload, _ = threads("PUT", "cthr_68e5b0c8a6b88190", body=body)

    assert status == 410
    assert "GET /api/chatkit/threads" in payload["detail"] and "POST /chatkit" in payload["detail"]
    assert table_items(aws, "ThreadsTable") == [] and table_items(aws, "ChatKitTable") == []


def test_a_cursor_from_another_user_only_pages_within_the_callers_threads(app: Any, threads: Any) -> None:
    for n in range(3):
        create_thread(app, f"alice {n}", "alice")
        create_thread(app, f"bob {n}", "bob")
    alice_cursor = threads("GET", query={"limit": "1"}, user_id="alice")[1]["next_cursor"]

    status, page, _ = threads("GET", query={"cursor": alice_cursor}, user_id="bob")

    assert status == 200
    assert {t["title"].split()[0] for t in page["threads"]} <= {"bob"}


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJ1c2VyX2lkIjp7IlMiOiJib2IifX0"},  # names a partition: refused
        {"cursor": "eyJ0aHJlYWRfaWQiOnsiUyI6ImEifX0"},  # thread_id only: not an index position
        # A position among items, not threads: refused rather than paging the wrong records.
        {"cursor": "eyJvcmRlcl9rZXkiOnsiUyI6Iml0ZW0jdGhyX2EjeCJ9LCJzayI6eyJTIjoiaXRlbSN0aHJfYSN4In19"},
        {"cursor": "x" * 600},
    ],
)
def test_bad_list_queries_are_422(threads: Any, query: dict[str, str]) -> None:
    status, payload, _ = threads("GET", query=query)
    assert status == 422 and isinstance(payload["detail"], str)


ROUTES = [("GET", None), ("PUT", "cthr_abc"), ("DELETE", "thr_abc")]


@pytest.mark.parametrize(("method", "thread_id"), ROUTES)
def test_without_an_identity_every_route_is_401(threads: Any, method: str, thread_id: str | None) -> None:
    status, payload, _ = threads(method, thread_id, user_id=None)
    assert (status, payload) == (401, {"detail": "Authentication required. Please log in."})


@pytest.mark.parametrize(("method", "thread_id"), ROUTES)
def test_a_session_token_cannot_reach_the_thread_routes(
    app: Any, threads: Any, aws: AwsResources, method: str, thread_id: str | None
) -> None:
    mine = create_thread(app, "Buy milk", "alice")[0]
    before = table_items(aws, "ChatKitTable")

    status, payload, _ = threads(method, mine if method == "DELETE" else thread_id, token_use="session")

    assert (status, payload) == (403, {"detail": USER_TOKEN_ONLY})
    assert table_items(aws, "ChatKitTable") == before
