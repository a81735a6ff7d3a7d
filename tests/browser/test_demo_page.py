"""`make dev`'s ChatKit demo page in Chromium, against the running local stack.

ChatKit itself only loads from OpenAI's CDN, which tests cannot reach: the page gets a stand-in
``<openai-chatkit>`` element that records the options it is given, and the test drives the
page's own code through them: the chat session it gets from POST /api/chatkit/session, its
fetch (the session's client_secret on every ChatKit request, renewed before it expires), a task
widget's Complete button as ChatKit sends it to the server, and a two-phase upload. The upload
runs from the page, cross-origin to the bucket (moto), so the bucket's CORS rules are what a
real browser enforces. The model is the Responses stand-in (local/standins/openai.py).
The stack's sessions live SESSION_SECONDS, so a test outlives a client_secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.standins.openai import FakeResponses, call, fake_responses, text
from tests.support.chat import Chat, sse, user_message
from tests.support.local_stack import start_stack

pytestmark = pytest.mark.integration

CDN = "https://cdn.platform.openai.com/**"
# What the page sees of ChatKit: an element that keeps the options and the actions sent to it.
CHATKIT_STAND_IN = """
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) { window.chatkitOptions = options; }
  async sendCustomAction(action, itemId) { (window.sentActions ||= []).push({ action, itemId }); }
});
"""
PNG = list(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2)
USERS = ("alice", "bob", "carol", "dave")
# Long enough for a request on a busy machine, short enough that a test outlives a client_secret.
SESSION_SECONDS = 15


class Site(Chat):
    """The stack, its users' tokens and the model stand-in; ``post``/``events``/``list_tasks``
    arrange and check from outside the browser."""

    def __init__(self, stack: Any, fake: FakeResponses) -> None:
        super().__init__(stack.url, {user: stack.user_token(user) for user in USERS})
        self.stack = stack
        self.fake = fake


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with (
        fake_responses() as fake,
        start_stack(
            {
                "OPENAI_BASE_URL": fake.url,
                "OPENAI_API_KEY": "sk-test-browser",
                "CHATKIT_SESSION_SECONDS": str(SESSION_SECONDS),
            }
        ) as stack,
    ):
        site = Site(stack, fake)
        # Warm the functions of the flow, so no test's first request waits out a cold start.
        headers = {"authorization": f"Bearer {site.tokens['alice']}"}
        assert httpx.post(f"{stack.url}/api/chatkit/session", headers=headers, timeout=60).status_code == 201
        assert site.post({"type": "threads.list", "params": {}}, "alice").status_code == 200
        yield site


def open_demo(page: Any, site: Site, user: str) -> None:
    """The demo page with the user's token pasted in, as a developer would use it."""
    page.route(
        CDN, lambda route: route.fulfill(status=200, content_type="text/javascript", body=CHATKIT_STAND_IN)
    )
    # As a fresh tab: no token of an earlier user for the page to start a session with on load.
    if page.url.startswith(site.stack.demo_url):
        page.evaluate("() => sessionStorage.clear()")
    page.goto(site.stack.demo_url)
    page.fill("#token", site.tokens[user])
    page.click("button[type=submit]")
    page.wait_for_function("() => window.chatkitOptions !== undefined")


def seen(page: Any) -> list[tuple[str, str | None]]:
    """Every POST the page sends from now on: (URL, Authorization), in order."""
    requests: list[tuple[str, str | None]] = []
    page.on(
        "request",
        lambda r: requests.append((r.url, r.headers.get("authorization"))) if r.method == "POST" else None,
    )
    return requests


def sent_to(requests: list[tuple[str, str | None]], url: str) -> list[str | None]:
    """The Authorization of each POST to ``url``, in order."""
    return [authorization for target, authorization in requests if target == url]


# A ChatKit request through the page's own api.fetch: its status, content type and body text.
PAGE_FETCH = """async ({ url, body }) => {
  const response = await window.chatkitOptions.api.fetch(url, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() };
}"""


def page_fetch(page: Any, site: Site, body: dict[str, Any]) -> dict[str, Any]:
    return page.evaluate(PAGE_FETCH, {"url": f"{site.url}/chatkit", "body": body})


def test_the_pages_options_turn_on_what_the_server_serves(page: Any, site: Site) -> None:
    open_demo(page, site, "alice")
    options = page.evaluate(
        """() => {
          const o = window.chatkitOptions;
          return {
            url: o.api.url, domainKey: o.api.domainKey, uploadStrategy: o.api.uploadStrategy,
            attachments: o.composer.attachments, dictation: o.composer.dictation,
            threadItemActions: o.threadItemActions, onAction: typeof o.widgets.onAction,
          };
        }"""
    )
    assert options["url"] == f"{site.url}/chatkit" and options["domainKey"] == "local-dev"
    assert options["uploadStrategy"] == {"type": "two_phase"}
    assert options["attachments"]["enabled"] is True and options["attachments"]["maxSize"] == 10 * 1024 * 1024
    assert sorted(options["attachments"]["accept"]) == [
        "application/pdf",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/webp",
    ]
    assert options["dictation"] == {"enabled": True}
    assert options["threadItemActions"] == {"feedback": True, "retry": True}
    assert options["onAction"] == "function"
    # Actions a widget routes to the client are handed to the server, for the item that sent them.
    page.evaluate(
        """() => window.chatkitOptions.widgets.onAction(
          { type: "task.complete", payload: { task_id: "01JQ7Z8X9Y0ABCDEFGHJKMNPQR" } }, { id: "msg_1", widget: {} })"""
    )
    assert page.evaluate("() => window.sentActions") == [
        {
            "action": {"type": "task.complete", "payload": {"task_id": "01JQ7Z8X9Y0ABCDEFGHJKMNPQR"}},
            "itemId": "msg_1",
        }
    ]


def test_the_pages_fetch_sends_the_sessions_client_secret_to_chatkit(page: Any, site: Site) -> None:
    requests = seen(page)
    open_demo(page, site, "carol")
    answer = page_fetch(page, site, {"type": "threads.list", "params": {}})
    assert (answer["status"], json.loads(answer["body"])) == (200, {"data": [], "has_more": False})
    session = sent_to(requests, f"{site.url}/api/chatkit/session")
    sent = sent_to(requests, f"{site.url}/chatkit")
    assert session and set(session) == {f"Bearer {site.tokens['carol']}"}
    assert len(sent) == 1 and sent[0] != f"Bearer {site.tokens['carol']}"
    assert site.stack.wait_for_log("POST /chatkit 200 ChatKitFunction auth=called:allowed")


def test_the_page_chats_with_a_session_it_renews_and_another_device_opens_the_same_thread(
    browser: Any, page: Any, site: Site
) -> None:
    """The flow of docs/chatkit-frontend.md: the user's token gets a session; ChatKit talks to its
    chatkit_url with its client_secret, renewed before it expires; a second device (a new browser
    context, the same user) opens the thread the user wrote in, from the session's thread_id."""
    requests = seen(page)
    session_url, chatkit = f"{site.url}/api/chatkit/session", f"{site.url}/chatkit"
    with page.expect_response(lambda r: r.url == session_url and r.request.method == "POST") as got:
        open_demo(page, site, "dave")
    first = got.value.json()
    assert (got.value.status, first["thread_id"]) == (201, None)
    assert sent_to(requests, session_url) == [f"Bearer {site.tokens['dave']}"]
    options = page.evaluate(
        "() => ({ url: window.chatkitOptions.api.url, thread: window.chatkitOptions.initialThread })"
    )
    assert options == {"url": chatkit, "thread": None}

    created = page_fetch(
        page, site, {"type": "threads.create", "params": {"input": user_message("Buy milk")}}
    )
    assert (created["status"], created["contentType"]) == (200, "text/event-stream")
    thread_id = sse(created["body"].encode())[0]["thread"]["id"]
    assert sent_to(requests, chatkit) == [f"Bearer {first['client_secret']}"]

    # Past the first secret's expiry: the page renewed it before a request went out with it.
    time.sleep(max(0.0, first["expires_at"] - time.time()) + 0.5)
    listed = page_fetch(page, site, {"type": "items.list", "params": {"thread_id": thread_id}})
    assert listed["status"] == 200 and json.loads(listed["body"])["data"]
    assert len(sent_to(requests, session_url)) >= 2, "renewed by asking for a new session"
    latest = sent_to(requests, chatkit)[-1]
    assert latest not in (f"Bearer {first['client_secret']}", f"Bearer {site.tokens['dave']}")
    # The first secret is refused now, though the gateway still holds the authorizer's Allow.
    refused = httpx.post(
        chatkit,
        headers={"authorization": f"Bearer {first['client_secret']}"},
        json={"type": "threads.list", "params": {}},
        timeout=60,
    )
    assert refused.status_code == 401 and refused.json()["detail"].startswith("The chat session expired")

    other_device = browser.new_context()
    try:
        second = other_device.new_page()
        open_demo(second, site, "dave")
        assert second.evaluate("() => window.chatkitOptions.initialThread") == thread_id
        items = page_fetch(
            second, site, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}
        )
        assert (
            items["status"] == 200
            and json.loads(items["body"])["data"][0]["content"][0]["text"] == "Buy milk"
        )
    finally:
        other_device.close()


def test_a_task_widgets_complete_button_completes_the_task_from_the_page(page: Any, site: Site) -> None:
    """The agent lists Alice's tasks as a widget; the page sends the button's action as ChatKit
    does (threads.custom_action through api.fetch), and the widget comes back done, in place.
    Bob's page sending the same click changes nothing."""
    site.fake.script(
        call("add_task", title="Water the plants"),
        call("list_tasks"),
        text("Here is your list.", pieces=1, pause=0),
    )
    events = site.events(
        {
            "type": "threads.create",
            "params": {"input": user_message("Add water the plants, then show my list")},
        }
    )
    thread_id = events[0]["thread"]["id"]
    [task] = site.list_tasks("alice")
    [listed] = [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done"
        and e["item"]["type"] == "widget"
        and e["item"]["widget"]["type"] == "ListView"
    ]
    [row] = [r for r in listed["widget"]["children"] if r["key"] == task["task_id"]]
    button = next(child for child in row["children"] if child["type"] == "Button")
    assert button["onClickAction"]["handler"] == "server"
    click = {
        "type": "threads.custom_action",
        "params": {
            "thread_id": thread_id,
            "item_id": listed["id"],
            "action": {
                "type": button["onClickAction"]["type"],
                "payload": button["onClickAction"]["payload"],
            },
        },
    }

    open_demo(page, site, "bob")
    refused = page_fetch(page, site, click)
    assert refused["status"] == 404 and json.loads(refused["body"])["detail"].startswith(
        "No "
    )  # not found for Bob
    assert [t["status"] for t in site.list_tasks("alice")] == ["pending"]

    open_demo(page, site, "alice")
    clicked = page_fetch(page, site, click)
    assert (clicked["status"], clicked["contentType"]) == (200, "text/event-stream")
    streamed = sse(clicked["body"].encode())
    replaced = next(e["item"] for e in streamed if e["type"] == "thread.item.replaced")
    assert replaced["id"] == listed["id"]
    [done_row] = [r for r in replaced["widget"]["children"] if r["key"] == task["task_id"]]
    assert [c["type"] for c in done_row["children"]].count("Button") == 0
    assert any(c["type"] == "Badge" and c["label"] == "Done" for c in done_row["children"])
    assert {"type": "client_effect", "name": "tasks.changed"}.items() <= next(
        e for e in streamed if e["type"] == "client_effect"
    ).items()
    assert [(t["task_id"], t["status"]) for t in site.list_tasks("alice")] == [(task["task_id"], "completed")]


UPLOAD_FROM_PAGE = """async ({ url, bytes }) => {
  const created = await window.chatkitOptions.api.fetch(url, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "attachments.create", params: { name: "list.png", size: bytes.length, mime_type: "image/png" } }),
  }).then((r) => r.json());
  const upload = created.upload_descriptor;
  const put = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: new Uint8Array(bytes) });
  const preview = await fetch(created.preview_url);
  return { id: created.id, put: put.status, preview: Array.from(new Uint8Array(await preview.arrayBuffer())) };
}"""


def test_the_page_uploads_to_the_bucket_through_the_presigned_url(page: Any, site: Site) -> None:
    open_demo(page, site, "alice")
    result = page.evaluate(UPLOAD_FROM_PAGE, {"url": f"{site.url}/chatkit", "bytes": PNG})
    assert result["put"] == 200 and result["preview"] == PNG
    stored = site.stack.client("s3").get_object(
        Bucket=site.stack.physical_id("AttachmentsBucket"), Key=f"users/alice/{result['id']}"
    )
    assert list(stored["Body"].read()) == PNG and stored["ContentType"] == "image/png"


def test_a_page_on_an_origin_the_bucket_does_not_allow_cannot_upload(page: Any, site: Site) -> None:
    created = httpx.post(
        f"{site.url}/chatkit",
        headers={"authorization": f"Bearer {site.tokens['alice']}", "content-type": "application/json"},
        content=json.dumps(
            {
                "type": "attachments.create",
                "params": {"name": "x.png", "size": len(PNG), "mime_type": "image/png"},
            }
        ),
    ).json()
    elsewhere = "http://not-allowed.example/"
    page.route(
        elsewhere,
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<!doctype html><p>elsewhere</p>"
        ),
    )
    page.goto(elsewhere)
    outcome = page.evaluate(
        """async ({ upload, bytes }) => {
          try {
            const put = await fetch(upload.url, { method: upload.method, headers: upload.headers, body: new Uint8Array(bytes) });
            return `status ${put.status}`;
          } catch (error) {
            return `blocked: ${error.name}`;
          }
        }""",
        {"upload": created["upload_descriptor"], "bytes": PNG},
    )
    assert outcome == "blocked: TypeError"
    listed = site.stack.client("s3").list_objects_v2(
        Bucket=site.stack.physical_id("AttachmentsBucket"), Prefix=f"users/alice/{created['id']}"
    )
    assert listed["KeyCount"] == 0
