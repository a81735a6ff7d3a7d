"""`make dev`'s ChatKit demo page in Chromium, against the running local stack.

ChatKit itself only loads from OpenAI's CDN, which tests cannot reach: the page gets a stand-in
``<openai-chatkit>`` element that records the options it is given, and the test drives the
page's own code through them: its fetch (the user's bearer on every ChatKit request), a task
widget's Complete button as ChatKit sends it to the server, and a two-phase upload. The upload
runs from the page, cross-origin to the bucket (moto), so the bucket's CORS rules are what a
real browser enforces. The model is the Responses stand-in (tests/support/fake_responses_api.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.chat import Chat, sse, user_message
from tests.support.fake_responses_api import FakeResponses, call, fake_responses, text
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
USERS = ("alice", "bob", "carol")


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
        start_stack({"OPENAI_BASE_URL": fake.url, "OPENAI_API_KEY": "sk-test-browser"}) as stack,
    ):
        yield Site(stack, fake)


def open_demo(page: Any, site: Site, user: str) -> None:
    """The demo page with the user's token pasted in, as a developer would use it."""
    page.route(
        CDN, lambda route: route.fulfill(status=200, content_type="text/javascript", body=CHATKIT_STAND_IN)
    )
    page.goto(site.stack.demo_url)
    page.fill("#token", site.tokens[user])
    page.click("button[type=submit]")
    page.wait_for_function("() => window.chatkitOptions !== undefined")


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


def test_the_pages_fetch_sends_the_bearer_to_chatkit(page: Any, site: Site) -> None:
    open_demo(page, site, "carol")
    sent: list[dict[str, str]] = []
    chatkit = f"{site.url}/chatkit"
    page.on(
        "request",
        lambda request: (
            sent.append(request.headers) if request.url == chatkit and request.method == "POST" else None
        ),
    )
    answer = page_fetch(page, site, {"type": "threads.list", "params": {}})
    assert (answer["status"], json.loads(answer["body"])) == (200, {"data": [], "has_more": False})
    assert [headers["authorization"] for headers in sent] == [f"Bearer {site.tokens['carol']}"]
    assert site.stack.wait_for_log("POST /chatkit 200 ChatKitFunction auth=called:allowed")


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
