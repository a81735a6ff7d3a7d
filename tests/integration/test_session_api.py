"""The ChatKit frontend's routes over HTTP through `make dev`: a chat session, the chat with its
client_secret, and the user's threads, as the frontend sees them. The model is the Responses
stand-in; user tokens are what `make token` prints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from chatkit_backend.auth.tokens import SESSION_AUDIENCE

from local.standins.openai import fake_responses
from tests.support.chat import StackChat, thread_lists, user_message
from tests.support.local_stack import start_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def site() -> Iterator[StackChat]:
    with (
        fake_responses() as fake,
        start_stack({"OPENAI_BASE_URL": fake.url, "OPENAI_API_KEY": "sk-test-sessions"}) as stack,
    ):
        users = ("alice", "bob", "carol", "dave", "erin", "grace")
        yield StackChat(stack.url, {user: stack.user_token(user) for user in users}, stack, fake)


def session(site: StackChat, user: str) -> dict[str, Any]:
    response = httpx.post(
        f"{site.url}/api/chatkit/session",
        headers={"authorization": f"Bearer {site.tokens[user]}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


def with_secret(site: StackChat, secret: str, body: dict[str, Any]) -> httpx.Response:
    """A ChatKit request as the widget sends it: to the session's chatkit_url, with its client_secret."""
    return httpx.post(
        f"{site.url}/chatkit", headers={"authorization": f"Bearer {secret}"}, json=body, timeout=60
    )


def signing_key(site: StackChat) -> str:
    return site.stack.client("secretsmanager").get_secret_value(
        SecretId=site.stack.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]


def test_a_session_names_the_local_chat_and_no_thread_yet(site: StackChat) -> None:
    answer = session(site, "carol")

    assert set(answer) == {"client_secret", "expires_at", "chatkit_url", "thread_id"}
    assert answer["chatkit_url"] == f"{site.url}/chatkit"  # the local REST API's /chatkit
    assert answer["thread_id"] is None
    claims = jwt.decode(
        answer["client_secret"], signing_key(site), algorithms=["HS256"], audience=SESSION_AUDIENCE
    )
    assert (claims["sub"], claims["exp"]) == ("carol", answer["expires_at"])


def test_the_client_secret_chats_and_the_next_session_opens_the_newest_thread(site: StackChat) -> None:
    first = session(site, "alice")
    created = with_secret(
        site,
        first["client_secret"],
        {"type": "threads.create", "params": {"input": user_message("Buy milk")}},
    )
    assert created.status_code == 200 and created.headers["content-type"] == "text/event-stream"
    thread_id = site.threads("alice")[0]

    again = session(site, "alice")

    assert again["thread_id"] == thread_id
    assert again["client_secret"] != first["client_secret"]
    items = with_secret(
        site, again["client_secret"], {"type": "items.list", "params": {"thread_id": thread_id}}
    )
    assert items.status_code == 200 and items.json()["data"]
    # Another user's session never names it, and their client_secret cannot open it.
    bobs = session(site, "bob")
    assert bobs["thread_id"] != thread_id
    for request in (
        {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
        {"type": "items.list", "params": {"thread_id": thread_id}},
        {"type": "threads.delete", "params": {"thread_id": thread_id}},
    ):
        assert with_secret(site, bobs["client_secret"], request).status_code == 404
    assert site.threads("alice") == [thread_id]


def test_the_threads_route_lists_what_threads_list_shows_for_each_user(site: StackChat) -> None:
    for user, messages in (
        ("dave", ["Plan the week", "Call mom", "Book a dentist"]),
        ("grace", ["Pay rent"]),
    ):
        for message in messages:
            site.events({"type": "threads.create", "params": {"input": user_message(message)}}, user)
    for user, titles in (("dave", ["Book a dentist", "Call mom", "Plan the week"]), ("grace", ["Pay rent"])):
        route, chatkit = thread_lists(site.url, site.tokens[user], session(site, user)["client_secret"])
        assert route == chatkit
        assert [title for ids, _ in route for _, title in ids] == titles


@pytest.mark.parametrize("body", ["{", "[]", '"x"', '{"thread_id": "thr_1"}', '{"unknown": 1}'])
def test_malformed_bodies_are_422(site: StackChat, body: str) -> None:
    response = httpx.post(
        f"{site.url}/api/chatkit/session",
        content=body,
        headers={"authorization": f"Bearer {site.tokens['alice']}", "content-type": "application/json"},
        timeout=60,
    )

    assert response.status_code == 422
    assert set(response.json()) == {"detail"}


def test_a_thread_of_the_list_is_deleted_as_threads_delete_does(site: StackChat) -> None:
    site.events({"type": "threads.create", "params": {"input": user_message("Short-lived")}}, "erin")
    doomed = site.threads("erin")[0]
    headers = {"authorization": f"Bearer {site.tokens['erin']}"}

    assert (
        httpx.delete(
            f"{site.url}/api/chatkit/threads/{doomed}",
            headers={"authorization": f"Bearer {site.tokens['bob']}"},
            timeout=60,
        ).status_code
        == 404
    )
    assert (
        httpx.delete(f"{site.url}/api/chatkit/threads/{doomed}", headers=headers, timeout=60).status_code
        == 204
    )

    assert doomed not in site.threads("erin")
    assert site.post({"type": "items.list", "params": {"thread_id": doomed}}, "erin").status_code == 404
    gone = httpx.put(
        f"{site.url}/api/chatkit/threads/{doomed}", headers=headers, json={"title": "x"}, timeout=60
    )
    assert gone.status_code == 410 and "GET /api/chatkit/threads" in gone.json()["detail"]


def test_the_stack_logs_no_secret(site: StackChat) -> None:
    secret = session(site, "grace")["client_secret"]
    assert with_secret(site, secret, {"type": "threads.list", "params": {}}).status_code == 200

    log = site.stack.log()
    assert "POST /api/chatkit/session 201" in log
    for value in (secret, signing_key(site), site.tokens["grace"]):
        assert value not in log
