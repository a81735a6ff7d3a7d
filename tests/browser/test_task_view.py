"""The task view (MCP Apps) in a real web host, in Chromium, against `make dev`'s /mcp.

The host (tests/support/mcp_apps_host) is what ChatGPT or Claude's web app is to a user: the
official TypeScript MCP client connects with the user's token and offers the extension, and the
extension's AppBridge renders the view the server names, in a sandbox proxy on another origin
under MCP Apps' CSP. The test plays the user: it looks at the view and clicks in it, and reads
the tasks back over plain MCP with the official Python client, as another client would.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.browser import PageServer
from tests.support.local_stack import RunningStack, start_stack
from tests.support.mcp_apps_host import VIEW_CSP, host_pages, view_frame

pytestmark = pytest.mark.integration

VIEW_URI = "ui://tasks/list"
# Where the screenshot goes: outside the repository. docs/images/task-view.png is refreshed from
# it by hand, when the view changes on purpose.
SCREENSHOT = Path(tempfile.gettempdir()) / "task-view.png"


@dataclass
class Site:
    stack: RunningStack
    pages: PageServer
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        """The user's token, the same one each time: the one their host holds."""
        return self.tokens.setdefault(user, self.stack.user_token(user))

    def open_host(self, page: Any, user: str) -> dict[str, Any]:
        """The host page, connected to /mcp as ``user``: what the server answered the connection."""
        page.goto(self.pages.url("host.html"))
        page.wait_for_function("() => window.host !== undefined")
        return page.evaluate(
            "([url, token]) => host.connect(url, token)", [f"{self.stack.url}/mcp", self.token(user)]
        )

    def show(self, page: Any, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        """The model calls ``tool``; the host renders its view. The view's frame, once it shows tasks."""
        sandbox = self.pages.url("sandbox.html", self.pages.other_origin)
        page.evaluate(
            "([tool, args, sandbox]) => host.show(tool, args, sandbox)", [tool, arguments or {}, sandbox]
        )
        frame = view_frame(page)
        frame.wait_for_selector("#count:not(:text('Loading…'))")
        return frame


def plain_mcp(site: Site, user: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tool call over plain MCP with the official Python client (no extension offered), in a
    thread of its own: Playwright's sync API holds this thread's event loop."""

    async def call() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {site.token(user)}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{site.stack.url}/mcp", http_client=http)) as client,
        ):
            result = await client.call_tool(tool, arguments)
            assert not result.is_error, result
            return result.structured_content or json.loads(result.content[0].text)

    with ThreadPoolExecutor(1) as worker:
        return worker.submit(asyncio.run, call()).result(timeout=60)


def seed(site: Site, user: str, *titles: str) -> None:
    """Tasks the user made elsewhere (over plain MCP), before their host shows the view."""
    for title in titles:
        plain_mcp(site, user, "add_task", {"title": title})


def tasks_of(site: Site, user: str) -> dict[str, str]:
    """The user's tasks, title -> status, read back over plain MCP."""
    listed = plain_mcp(site, user, "list_tasks", {"limit": 100})["tasks"]
    return {task["title"]: task["status"] for task in listed}


def rows(frame: Any) -> list[dict[str, Any]]:
    """The view's rows as the user sees them: title, status, struck through, buttons."""
    return frame.evaluate(
        """() => [...document.querySelectorAll("#tasks li")].map((row) => ({
          title: row.querySelector(".title").textContent,
          status: row.classList.contains("completed") ? "completed" : "pending",
          struck: getComputedStyle(row.querySelector(".title")).textDecorationLine.includes("line-through"),
          buttons: [...row.querySelectorAll("button")].map((button) => button.textContent),
        }))"""
    )


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with host_pages() as pages, start_stack({"ALLOWED_ORIGINS": pages.origin}) as stack:
        yield Site(stack, pages)


def test_the_host_connects_offering_the_extension_and_finds_the_view(site: Site, page: Any) -> None:
    connected = site.open_host(page, "erin")
    # The TypeScript SDK speaks the initialize era: the offer comes back as a session id.
    assert connected["protocolVersion"] == "2025-11-25"
    assert connected["sessionId"].startswith("mcp-apps.")
    assert connected["capabilities"]["extensions"] == {"io.modelcontextprotocol/ui": {}}
    views = {
        tool["name"]: tool.get("_meta", {}).get("ui", {}).get("resourceUri") for tool in connected["tools"]
    }
    assert views == {
        "add_task": VIEW_URI,
        "list_tasks": VIEW_URI,
        "complete_task": VIEW_URI,
        "update_task": VIEW_URI,
        "delete_task": None,
    }


def test_the_view_shows_the_tasks_pending_first_and_completed_struck_through(site: Site, page: Any) -> None:
    seed(site, "alice", "Buy milk", "Call mom", "Water the plants")
    call_mom = next(
        task["task_id"]
        for task in plain_mcp(site, "alice", "list_tasks", {})["tasks"]
        if task["title"] == "Call mom"
    )
    plain_mcp(site, "alice", "complete_task", {"task_id": call_mom})
    site.open_host(page, "alice")

    frame = site.show(page, "list_tasks")

    assert rows(frame) == [
        {
            "title": "Buy milk",
            "status": "pending",
            "struck": False,
            "buttons": ["Complete", "Edit", "Delete"],
        },
        {
            "title": "Water the plants",
            "status": "pending",
            "struck": False,
            "buttons": ["Complete", "Edit", "Delete"],
        },
        {"title": "Call mom", "status": "completed", "struck": True, "buttons": ["Edit", "Delete"]},
    ]
    assert frame.text_content("#count") == "2 pending, 1 done"
    page.locator("#view").screenshot(path=SCREENSHOT)


def test_clicking_complete_completes_the_real_task(site: Site, page: Any) -> None:
    seed(site, "carol", "Pay rent", "Book dentist")
    site.open_host(page, "carol")
    frame = site.show(page, "list_tasks")

    frame.get_by_role("button", name="Complete Pay rent").click()

    frame.wait_for_selector("li.completed .title:text-is('Pay rent')")
    assert [(row["title"], row["status"]) for row in rows(frame)] == [
        ("Book dentist", "pending"),
        ("Pay rent", "completed"),
    ]
    assert tasks_of(site, "carol") == {"Pay rent": "completed", "Book dentist": "pending"}
    # The click was a tools/call through the host, then the list again, the same way.
    calls = page.evaluate("() => host.seen.calls.map((call) => call.name)")
    assert calls == ["complete_task", "list_tasks"]


def test_adding_a_task_from_the_views_input_creates_it(site: Site, page: Any) -> None:
    site.open_host(page, "dave")
    frame = site.show(page, "list_tasks")
    assert frame.text_content("#count") == "No tasks yet"

    frame.get_by_label("New task").fill("Fix the bike")
    frame.get_by_label("New task").press("Enter")
    frame.wait_for_selector("li .title:text-is('Fix the bike')")
    frame.get_by_label("New task").fill("Oil the chain")
    frame.get_by_role("button", name="Add", exact=True).click()
    frame.wait_for_selector("li .title:text-is('Oil the chain')")

    assert tasks_of(site, "dave") == {"Fix the bike": "pending", "Oil the chain": "pending"}
    assert frame.input_value("#new-title") == ""
    assert frame.text_content("#status") == "Added “Oil the chain”."


def test_a_task_is_renamed_and_deleted_from_the_view(site: Site, page: Any) -> None:
    seed(site, "frank", "Buy bred", "Old plan")
    site.open_host(page, "frank")
    frame = site.show(page, "list_tasks")

    frame.get_by_role("button", name="Edit Buy bred").click()
    frame.get_by_label("New title for Buy bred").fill("Buy bread")
    frame.get_by_role("button", name="Save the new title of Buy bred").click()
    frame.wait_for_selector("li .title:text-is('Buy bread')")
    frame.get_by_role("button", name="Delete Old plan").click()
    frame.wait_for_selector("li .title:text-is('Old plan')", state="detached")

    assert tasks_of(site, "frank") == {"Buy bread": "pending"}
    calls = page.evaluate("() => host.seen.calls.map((call) => call.name)")
    assert calls == ["update_task", "list_tasks", "delete_task", "list_tasks"]


def test_a_refused_action_is_said_and_the_list_shows_why(site: Site, page: Any) -> None:
    seed(site, "mona", "Cancel the gym")
    site.open_host(page, "mona")
    frame = site.show(page, "list_tasks")
    [task] = plain_mcp(site, "mona", "list_tasks", {})["tasks"]
    plain_mcp(site, "mona", "delete_task", {"task_id": task["task_id"]})  # from another client

    frame.get_by_role("button", name="Complete Cancel the gym").click()

    frame.wait_for_selector("#status[role=alert]")
    assert frame.text_content("#status").startswith(f"No task with id '{task['task_id']}'.")
    frame.wait_for_selector("li", state="detached")
    assert frame.text_content("#count") == "No tasks yet"


def test_a_change_the_model_makes_shows_in_the_view(site: Site, page: Any) -> None:
    seed(site, "gina", "Stretch")
    site.open_host(page, "gina")

    frame = site.show(page, "add_task", {"title": "Drink water"})

    # add_task answers one task; the view fetches the list it belongs to and marks the new one.
    assert [row["title"] for row in rows(frame)] == ["Stretch", "Drink water"]
    assert frame.get_attribute("li.changed", "data-task-id") is not None
    assert frame.text_content("li.changed .title") == "Drink water"


def test_a_second_users_host_shows_none_of_the_first_users_tasks(site: Site, browser: Any) -> None:
    seed(site, "hank", "Hank's secret plan")
    other = browser.new_context()
    try:
        page = other.new_page()
        site.open_host(page, "iris")
        frame = site.show(page, "list_tasks")
        assert rows(frame) == []
        assert frame.text_content("#count") == "No tasks yet"
        assert "Hank" not in frame.content()
    finally:
        other.close()
    assert tasks_of(site, "iris") == {}


def test_the_view_has_no_network_access_of_its_own(site: Site, page: Any) -> None:
    site.open_host(page, "jack")
    frame = site.show(page, "list_tasks")
    health_requests = site.stack.log().count("GET /health")

    attempt = frame.evaluate(
        """async (url) => {
          const violations = [];
          document.addEventListener("securitypolicyviolation", (event) => violations.push(event.violatedDirective));
          const outcome = await fetch(url).then((response) => `status ${response.status}`, (error) => error.name);
          await new Promise((resolve) => setTimeout(resolve, 100));
          return { outcome, violations };
        }""",
        f"{site.stack.url}/health",
    )

    assert attempt == {"outcome": "TypeError", "violations": ["connect-src"]}
    assert site.stack.log().count("GET /health") == health_requests
    # The same request from the host page, which has no such policy, does reach the stack.
    page.evaluate("(url) => fetch(url, { mode: 'no-cors' })", f"{site.stack.url}/health")
    deadline = time.monotonic() + 5
    while site.stack.log().count("GET /health") == health_requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert site.stack.log().count("GET /health") == health_requests + 1
    # The policy the view ran under is MCP Apps' own, from the sandbox's response header.
    sandbox = page.request.get(site.pages.url("sandbox.html", site.pages.other_origin))
    assert sandbox.headers["content-security-policy"] == VIEW_CSP


# The frame is as tall as the view last said it is.
SIZED = """() => {
  const size = host.seen.sizes.at(-1);
  return size !== undefined && Math.abs(document.getElementById("view").getBoundingClientRect().height - size.height) <= 2;
}"""


def test_the_view_follows_the_hosts_theme_and_reports_its_size(site: Site, page: Any) -> None:
    seed(site, "kate", "Read a book")
    site.open_host(page, "kate")
    frame = site.show(page, "list_tasks")
    background = "() => getComputedStyle(document.body).backgroundColor"
    assert frame.evaluate("() => document.documentElement.dataset.theme") == "light"
    light = frame.evaluate(background)

    page.evaluate("() => host.setTheme('dark')")
    frame.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")

    assert frame.evaluate(background) != light
    assert sum(map(int, frame.evaluate(background).strip("rgb()").split(","))) < 3 * 64
    # The view reports its height and the host sizes the frame to it; a row more, a taller view.
    page.wait_for_function(SIZED)
    height = page.evaluate("() => host.seen.sizes.at(-1).height")
    frame.get_by_label("New task").fill("Write a letter")
    frame.get_by_label("New task").press("Enter")
    frame.wait_for_selector("li .title:text-is('Write a letter')")
    page.wait_for_function("(before) => host.seen.sizes.at(-1).height > before", arg=height)
    page.wait_for_function(SIZED)


def test_the_view_holds_no_token_and_shows_titles_as_text(site: Site, page: Any) -> None:
    hostile = '<img src=x onerror="window.pwned = true">'
    seed(site, "liam", hostile)
    site.open_host(page, "liam")
    frame = site.show(page, "list_tasks")

    assert [row["title"] for row in rows(frame)] == [hostile]
    assert frame.evaluate("() => window.pwned") is None
    assert frame.locator("#tasks img").count() == 0
    # The host holds the user's token and acts with it; nothing of it reaches the view.
    assert site.token("liam") not in frame.content()
