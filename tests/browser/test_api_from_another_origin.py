"""The API as a web app on another origin uses it: Chromium, a page on http://localhost:<port>
(an allowed origin) with a user's bearer token, against `make dev`'s stack.

The page calls the API with fetch() and reports what it saw: a status and a body, or the
TypeError a browser gives when CORS refuses a response. The model behind /chatkit is the
Responses stand-in (local/standins/openai.py); its answer is held until the page has seen the
stream's first events, so "events arrive over time" is proven by the order of things, not by
a clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local import sse
from local.standins.openai import FakeResponses, fake_responses, text
from tests.support.browser import PageServer, serve_pages
from tests.support.local_stack import RunningStack, start_stack

pytestmark = pytest.mark.integration

# The app's side of every call: a status and a body, or the error fetch() rejected with.
CLIENT_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>API client</title>
<script>
async function call(url, {method = "GET", token, body, headers = {}} = {}) {
  const sent = {...headers};
  if (token) sent["authorization"] = `Bearer ${token}`;
  if (body !== undefined) sent["content-type"] = "application/json";
  try {
    const response = await fetch(url, {method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body)});
    return {status: response.status, body: await response.text()};
  } catch (error) {
    return {error: `${error.name}: ${error.message}`};
  }
}

// A POST whose body is read as it arrives; each chunk is kept with the moment it came.
function startStream(url, token, body) {
  window.arrivals = [];
  window.streamed = (async () => {
    const response = await fetch(url, {
      method: "POST", body: JSON.stringify(body),
      headers: {"authorization": `Bearer ${token}`, "content-type": "application/json"},
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      window.arrivals.push({at: performance.now(), text: decoder.decode(value, {stream: true})});
    }
    return {status: response.status, contentType: response.headers.get("content-type")};
  })().catch(error => ({error: `${error.name}: ${error.message}`}));
}
</script>
"""
MODERN_MCP = "2026-07-28"


@dataclass
class Site:
    stack: RunningStack
    pages: PageServer
    model: FakeResponses
    tokens: dict[str, str]

    def open(self, page: Any, origin: str | None = None) -> Any:
        page.goto(self.pages.url("client.html", origin))
        return page

    def call(self, page: Any, path: str, **options: Any) -> dict[str, Any]:
        return page.evaluate("([url, options]) => call(url, options)", [f"{self.stack.url}{path}", options])


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with serve_pages({"client.html": CLIENT_PAGE}) as pages, fake_responses() as model:
        env = {
            "ALLOWED_ORIGINS": pages.origin,
            "OPENAI_BASE_URL": model.url,
            "OPENAI_API_KEY": "sk-test-browser",
        }
        with start_stack(env) as stack:
            yield Site(stack, pages, model, {user: stack.user_token(user) for user in ("alice", "bob")})


def chatkit(kind: str, **params: Any) -> dict[str, Any]:
    return {"type": kind, "params": params}


def user_message(words: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": words}], "attachments": [], "inference_options": {}}


def mcp_call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A 2026-07-28 tools/call as page options: the body and the headers the revision requires."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": tool,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN_MCP,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "browser-test", "version": "1"},
            },
        },
    }
    headers = {
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": MODERN_MCP,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }
    return {"method": "POST", "body": body, "headers": headers}


def test_the_first_chatkit_post_after_its_preflight_succeeds(site: Site, browser: Any) -> None:
    """A fresh browser context has no cached preflight: its first POST /chatkit follows an OPTIONS
    on the same kept-alive connection, and is read only if that 204 carried nothing after its
    headers. A stray byte there fails it now and then, not always: several fresh contexts try."""
    for _ in range(5):
        context = browser.new_context()
        try:
            page = site.open(context.new_page())
            first = site.call(
                page,
                "/chatkit",
                method="POST",
                token=site.tokens["alice"],
                body=chatkit("threads.list", limit=5),
            )
            second = site.call(
                page,
                "/chatkit",
                method="POST",
                token=site.tokens["alice"],
                body=chatkit("threads.list", limit=5),
            )
        finally:
            context.close()
        assert first.get("status") == 200, first
        assert isinstance(json.loads(first["body"])["data"], list)
        assert second.get("status") == 200, second
    assert site.stack.wait_for_log("OPTIONS /chatkit 204")


def test_the_page_gets_a_session_chats_with_it_and_reads_the_threads_list(site: Site, page: Any) -> None:
    site.open(page)
    token = site.tokens["alice"]

    created = site.call(page, "/api/chatkit/session", method="POST", token=token)
    assert created.get("status") == 201, created
    session = json.loads(created["body"])
    assert session["chatkit_url"] == f"{site.stack.url}/chatkit"
    chatted = site.call(
        page,
        "/chatkit",
        method="POST",
        token=session["client_secret"],
        body=chatkit("threads.create", input=user_message("From the browser")),
    )
    listed = site.call(page, "/api/chatkit/threads?limit=10", token=token)
    gone = site.call(
        page, "/api/chatkit/threads/cthr_browser_1", method="PUT", token=token, body={"title": "x"}
    )

    assert chatted.get("status") == 200, chatted
    assert listed.get("status") == 200, listed
    threads = json.loads(listed["body"])["threads"]
    assert [t["title"] for t in threads] == ["From the browser"]
    assert gone.get("status") == 410 and "GET /api/chatkit/threads" in json.loads(gone["body"])["detail"]


def test_the_page_calls_an_mcp_tool(site: Site, page: Any) -> None:
    site.open(page)
    token = site.tokens["bob"]

    added = site.call(page, "/mcp", token=token, **mcp_call("add_task", {"title": "Water the plants"}))
    listed = site.call(page, "/mcp", token=token, **mcp_call("list_tasks", {"status": "pending"}))

    assert added.get("status") == 200, added
    created = json.loads(added["body"])["result"]["structuredContent"]
    assert (created["status"], created["title"]) == ("created", "Water the plants")
    tasks = json.loads(listed["body"])["result"]["structuredContent"]["tasks"]
    assert [t["task_id"] for t in tasks] == [created["task_id"]]


def test_a_chatkit_stream_reaches_the_page_event_by_event(site: Site, page: Any) -> None:
    model_may_answer = threading.Event()

    def held_answer(request: dict[str, Any]) -> Any:
        # The model answers only once the page has the stream's first events: had the gateway
        # held the stream back until the end, the page would have nothing yet, and this test fails.
        model_may_answer.wait(timeout=60)
        return text("Hello from the stand-in model.", pieces=4, pause=0.1)

    site.model.script(held_answer)
    site.open(page)
    page.evaluate(
        "([url, token, body]) => startStream(url, token, body)",
        [
            f"{site.stack.url}/chatkit",
            site.tokens["alice"],
            chatkit("threads.create", input=user_message("Say hello")),
        ],
    )
    page.wait_for_function(
        "() => window.arrivals.some(a => a.text.includes('thread.created'))", timeout=60_000
    )
    before_answer = page.evaluate("() => window.arrivals.length")
    model_may_answer.set()
    outcome = page.evaluate("() => window.streamed")
    arrivals = page.evaluate("() => window.arrivals")

    assert outcome == {"status": 200, "contentType": "text/event-stream"}, outcome
    events = sse_events(arrivals)
    assert events[0][1]["type"] == "thread.created"
    deltas = [
        e["update"]["delta"]
        for _, e in events
        if e["type"] == "thread.item.updated" and "delta" in e.get("update", {})
    ]
    assert "".join(deltas) == "Hello from the stand-in model."
    # The thread's first events were in the page while the model still held its answer; the
    # answer's events came after, at later moments the page recorded.
    assert 0 < before_answer < len(arrivals)
    assert len({a["at"] for a in arrivals}) > 1
    assert max(a["at"] for a in arrivals[:before_answer]) < min(a["at"] for a in arrivals[before_answer:])


def sse_events(arrivals: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """The SSE events in the page's chunks, each with the moment its last byte arrived."""
    return list(sse.timed((arrival["at"], arrival["text"].encode()) for arrival in arrivals))


ROUTES = {
    "threads": ("/api/chatkit/threads", {}),
    "mcp": ("/mcp", mcp_call("list_tasks", {})),
    "chatkit": ("/chatkit", {"method": "POST", "body": chatkit("threads.list")}),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize(
    ("token", "statuses"), [(None, {401}), ("forged", {401, 403})], ids=["missing token", "refused token"]
)
def test_the_page_reads_a_refusal_as_its_status_not_as_a_cors_failure(
    site: Site, page: Any, route: str, token: str | None, statuses: set[int]
) -> None:
    path, options = ROUTES[route]
    site.open(page)
    sent = {**options, "token": "not.a.jwt" if token else None}

    answer = site.call(page, path, **sent)

    assert answer.get("status") in statuses, answer
    assert json.loads(answer["body"]), answer


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_page_on_an_origin_not_allowed_is_refused(site: Site, page: Any, route: str) -> None:
    path, options = ROUTES[route]
    site.open(page, site.pages.other_origin)
    method = options.get("method", "GET")
    served = f"{method} {path.split('?')[0]} 200"
    before = site.stack.log().count(served)

    answer = site.call(page, path, token=site.tokens["alice"], **options)

    assert answer.get("error", "").startswith("TypeError"), answer
    # The preflight granted nothing, so the request itself never went out.
    assert site.stack.wait_for_log(f"OPTIONS {path.split('?')[0]} 204")
    assert site.stack.log().count(served) == before
