"""A ChatKit client for the local stack: what the frontend sends to POST /chatkit, and /mcp's list_tasks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from local.sse import parse, timed
from local.standins.openai import FakeResponses
from tests.support.local_stack import RunningStack
from tests.support.mcp_client import modern

Event = dict[str, Any]


def user_message(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def sse(raw: bytes) -> list[Event]:
    return parse(raw)


def call_tool(url: str, token: str, tool: str, arguments: dict[str, Any]) -> httpx.Response:
    """A 2026-07-28 tools/call to the stack at ``url``, as ``token``'s user."""
    body, headers = modern("tools/call", {"name": tool, "arguments": arguments})
    return httpx.post(
        f"{url}/mcp",
        json=body,
        timeout=60,
        headers={
            **headers,
            "authorization": f"Bearer {token}",
            "accept": "application/json, text/event-stream",
        },
    )


@dataclass
class Chat:
    url: str
    tokens: dict[str, str]

    def headers(self, user: str | None, extra: dict[str, str]) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if user is not None:
            headers["authorization"] = f"Bearer {self.tokens[user]}"
        return {**headers, **extra}

    def post(self, body: Any, user: str | None = "alice", **headers: str) -> httpx.Response:
        content = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return httpx.post(
            f"{self.url}/chatkit", content=content, headers=self.headers(user, headers), timeout=120
        )

    def stream(self, body: Any, user: str = "alice") -> list[tuple[float, Event]]:
        """Each SSE event with the moment (s after the request) its bytes reached the client."""
        started = time.monotonic()
        with httpx.stream(
            "POST",
            f"{self.url}/chatkit",
            content=json.dumps(body),
            headers=self.headers(user, {}),
            timeout=120,
        ) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"] == "text/event-stream"
            return list(timed((time.monotonic() - started, chunk) for chunk in response.iter_raw()))

    def events(self, body: Any, user: str = "alice") -> list[Event]:
        return [event for _, event in self.stream(body, user)]

    def items(self, thread_id: str, user: str = "alice") -> list[Event]:
        response = self.post(
            {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc", "limit": 100}}, user
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def threads(self, user: str = "alice") -> list[str]:
        response = self.post({"type": "threads.list", "params": {"limit": 100}}, user)
        assert response.status_code == 200, response.text
        return [thread["id"] for thread in response.json()["data"]]

    def mcp(self, tool: str, arguments: dict[str, Any], user: str = "alice") -> httpx.Response:
        return call_tool(self.url, self.tokens[user], tool, arguments)

    def list_tasks(self, user: str, status: str = "all") -> list[dict[str, Any]]:
        response = self.mcp("list_tasks", {"status": status}, user)
        assert response.status_code == 200, response.text
        return response.json()["result"]["structuredContent"]["tasks"]


Page = tuple[list[tuple[str, str | None]], str | None]


def thread_lists(
    url: str, user_token: str, chatkit_token: str, limit: int = 2
) -> tuple[list[Page], list[Page]]:
    """Every page of GET /api/chatkit/threads (with the user's token) and of ChatKit's
    threads.list on /chatkit (with ``chatkit_token``): each page's (thread id, title) pairs and
    the cursor of the next one."""
    listed: list[Page] = []
    cursor = None
    while True:
        page = httpx.get(
            f"{url}/api/chatkit/threads",
            params={"limit": limit, **({"cursor": cursor} if cursor else {})},
            headers={"authorization": f"Bearer {user_token}"},
            timeout=60,
        ).json()
        listed.append(([(t["thread_id"], t["title"]) for t in page["threads"]], page["next_cursor"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    shown: list[Page] = []
    after = None
    while True:
        body = {"type": "threads.list", "params": {"limit": limit, **({"after": after} if after else {})}}
        page = httpx.post(
            f"{url}/chatkit", json=body, headers={"authorization": f"Bearer {chatkit_token}"}, timeout=60
        ).json()
        after = page["after"] if page["has_more"] else None
        shown.append(([(t["id"], t.get("title")) for t in page["data"]], after))
        if after is None:
            return listed, shown


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, every: float = 0.2) -> Any:
    """``condition()``'s first truthy value within ``timeout`` seconds (a loaded machine is slow), else fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(every)


@dataclass
class StackChat(Chat):
    """A Chat on a running local stack, with the Responses stand-in that plays its model."""

    stack: RunningStack | None = None
    fake: FakeResponses | None = None
