"""`make dev`'s ChatKit demo page in Chromium, against the running local stack.

ChatKit itself only loads from OpenAI's CDN, which tests cannot reach: the page gets a stand-in
``<openai-chatkit>`` element that records the options it is given, and the test drives the
page's own code through them. The presigned upload runs from the page, cross-origin to the
bucket (moto), so the bucket's CORS rules are what a real browser enforces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local.token import mint_user_token
from tests.integration.stack import RunningStack, start_stack

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


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with start_stack() as running:
        yield running


@pytest.fixture(scope="module")
def token(stack: RunningStack) -> str:
    secret = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]
    return mint_user_token(secret, "alice")


def open_demo(page: Any, stack: RunningStack, token: str) -> None:
    page.route(CDN, lambda route: route.fulfill(status=200, content_type="text/javascript", body=CHATKIT_STAND_IN))
    page.goto(stack.demo_url)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.chatkitOptions !== undefined")


def test_the_pages_options_turn_on_what_the_server_serves(page: Any, stack: RunningStack, token: str) -> None:
    open_demo(page, stack, token)
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
    assert options["url"] == f"{stack.url}/chatkit" and options["domainKey"] == "local-dev"
    assert options["uploadStrategy"] == {"type": "two_phase"}
    assert options["attachments"]["enabled"] is True and options["attachments"]["maxSize"] == 10 * 1024 * 1024
    assert sorted(options["attachments"]["accept"]) == ["application/pdf", "image/gif", "image/jpeg", "image/png", "image/webp"]
    assert options["dictation"] == {"enabled": True}
    assert options["threadItemActions"] == {"feedback": True, "retry": True}
    assert options["onAction"] == "function"
    # Actions a widget routes to the client are handed to the server, for the item that sent them.
    page.evaluate(
        """() => window.chatkitOptions.widgets.onAction(
          { type: "task.complete", payload: { task_id: "01JQ7Z8X9Y0ABCDEFGHJKMNPQR" } }, { id: "msg_1", widget: {} })"""
    )
    assert page.evaluate("() => window.sentActions") == [
        {"action": {"type": "task.complete", "payload": {"task_id": "01JQ7Z8X9Y0ABCDEFGHJKMNPQR"}}, "itemId": "msg_1"}
    ]


def test_the_pages_fetch_sends_the_bearer_to_chatkit(page: Any, stack: RunningStack, token: str) -> None:
    open_demo(page, stack, token)
    sent: list[dict[str, str]] = []
    page.on("request", lambda request: sent.append(request.headers) if request.url == f"{stack.url}/chatkit" and request.method == "POST" else None)
    answer = page.evaluate(
        """async (url) => {
          const response = await window.chatkitOptions.api.fetch(url, {
            method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ type: "threads.list", params: {} }),
          });
          return { status: response.status, body: await response.json() };
        }""",
        f"{stack.url}/chatkit",
    )
    assert answer == {"status": 200, "body": {"data": [], "has_more": False}}
    assert [headers["authorization"] for headers in sent] == [f"Bearer {token}"]
    assert stack.wait_for_log("POST /chatkit 200 ChatKitFunction auth=called:allowed")


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


def test_the_page_uploads_to_the_bucket_through_the_presigned_url(page: Any, stack: RunningStack, token: str) -> None:
    open_demo(page, stack, token)
    result = page.evaluate(UPLOAD_FROM_PAGE, {"url": f"{stack.url}/chatkit", "bytes": PNG})
    assert result["put"] == 200 and result["preview"] == PNG
    stored = stack.client("s3").get_object(Bucket=stack.physical_id("AttachmentsBucket"), Key=f"users/alice/{result['id']}")
    assert list(stored["Body"].read()) == PNG and stored["ContentType"] == "image/png"


def test_a_page_on_an_origin_the_bucket_does_not_allow_cannot_upload(page: Any, stack: RunningStack, token: str) -> None:
    created = httpx.post(
        f"{stack.url}/chatkit", headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        content=json.dumps({"type": "attachments.create", "params": {"name": "x.png", "size": len(PNG), "mime_type": "image/png"}}),
    ).json()
    elsewhere = "http://not-allowed.example/"
    page.route(elsewhere, lambda route: route.fulfill(status=200, content_type="text/html", body="<!doctype html><p>elsewhere</p>"))
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
    listed = stack.client("s3").list_objects_v2(Bucket=stack.physical_id("AttachmentsBucket"), Prefix=f"users/alice/{created['id']}")
    assert listed["KeyCount"] == 0
