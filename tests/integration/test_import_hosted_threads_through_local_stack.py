"""`make import-hosted-threads` against `make dev`, with OpenAI's ChatKit threads API stood in.

The stack runs with OPENAI_BASE_URL at local/standins/openai.py and OPENAI_API_KEY set;
the import runs as the Makefile target, and users then read their history through /chatkit
with their own tokens, as the frontend will after the switch.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from local.emulator.token import mint_user_token
from local.standins.openai import (
    T0,
    History,
    HostedChatKit,
    ThreadsFault,
    error_body,
    hosted_chatkit,
    input_text,
    reply,
    seed_history,
)
from local.template import ROOT
from tests.support.chat import thread_lists
from tests.support.local_stack import RunningStack, start_stack

pytestmark = pytest.mark.integration
USERS = ("alice", "bob", "carol", "dave")


@dataclass
class World:
    stack: RunningStack
    hosted: HostedChatKit
    history: History
    tokens: dict[str, str]

    def make(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "-s", "import-hosted-threads", *args],
            cwd=ROOT,
            env=self.stack.environment(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def chatkit(self, user: str, kind: str, **params: Any) -> httpx.Response:
        return httpx.post(
            f"{self.stack.url}/chatkit",
            json={"type": kind, "params": params},
            timeout=60,
            headers={"authorization": f"Bearer {self.tokens[user]}"},
        )

    def threads(self, user: str) -> list[dict[str, Any]]:
        response = self.chatkit(user, "threads.list", order="asc", limit=100)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def items(self, user: str, thread_id: str) -> list[dict[str, Any]]:
        items, after = [], None
        while True:
            response = self.chatkit(
                user, "items.list", thread_id=thread_id, order="asc", limit=40, after=after
            )
            assert response.status_code == 200, response.text
            page = response.json()
            items += page["data"]
            if not page["has_more"]:
                return items
            after = page["after"]

    def table(self) -> list[dict[str, Any]]:
        dynamodb, records, start = self.stack.client("dynamodb"), [], None
        while True:
            page = dynamodb.scan(
                TableName=self.stack.physical_id("ChatKitTable"),
                **({"ExclusiveStartKey": start} if start else {}),
            )
            records += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return sorted(records, key=lambda r: (r["user_id"]["S"], r["sk"]["S"]))


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items for part in item.get("content", []) if "text" in part]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    api_key = f"sk-test-{secrets.token_hex(16)}"
    with hosted_chatkit(api_key) as hosted:
        history = seed_history(hosted)
        with start_stack({"OPENAI_BASE_URL": hosted.url, "OPENAI_API_KEY": api_key}) as stack:
            secret = stack.client("secretsmanager").get_secret_value(
                SecretId=stack.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
            )["SecretString"]
            yield World(stack, hosted, history, {user: mint_user_token(secret, user) for user in USERS})


def test_the_import_carries_every_users_history_and_runs_again_safely(world: World) -> None:
    history, hosted = world.history, world.hosted

    # A dry run counts and writes nothing.
    dry = world.make("DRY_RUN=1")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1].endswith("[dry run: nothing was written]")
    assert world.table() == [] and world.threads("alice") == []

    # The first run, with OpenAI rate limiting it once.
    hosted.requests.clear()
    hosted.fail(
        ThreadsFault(
            429,
            {"retry-after": "1"},
            error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
            path=history.every_type,
        )
    )
    first = world.make()
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("importing hosted ChatKit threads of every user from http://127.0.0.1:")
    assert sum(" imported; " in line for line in lines) == 5
    assert lines[-1] == (
        "done: threads: 5 imported, 0 updated, 0 unchanged, 0 skipped, 0 failed; items: 142 imported, 0 skipped (already here), "
        "2 failed (chatkit.client_tool_call ×1, chatkit.widget ×1: not convertible)"
    )
    assert "retrying in 1.0 s" in first.stderr and "hosted item not convertible" in first.stderr
    assert [r.status for r in hosted.requests if r.path.endswith(f"{history.every_type}/items")] == [429, 200]

    # Each user sees their own threads, oldest first, with titles and texts; no one else's.
    for user, thread_ids in history.threads.items():
        listed = world.threads(user)
        assert [t["id"] for t in listed] == thread_ids
        assert [t.get("title") for t in listed] == [history.titles[t] for t in thread_ids]
    assert world.threads("dave") == []
    long = world.items("alice", history.long_thread)
    assert texts(long) == [f"{'message' if i % 2 == 0 else 'answer'} {i:03d}" for i in range(130)]
    every = world.items("alice", history.every_type)
    assert [i["type"] for i in every] == [
        "user_message",
        "task",
        "workflow",
        "widget",
        "client_tool_call",
        "assistant_message",
    ]
    assert texts(world.items("bob", history.threads["bob"][0])) == [
        "bob's message in Gym plan",
        "bob's answer in Gym plan",
    ]
    [receipt_message, _] = world.items("carol", history.threads["carol"][0])
    assert [a["name"] for a in receipt_message["attachments"]] == ["receipt.png", "notes.pdf"]
    for intruder, (owner, thread_id) in (
        ("bob", ("alice", history.long_thread)),
        ("alice", ("carol", history.threads["carol"][0])),
    ):
        refused = world.chatkit(intruder, "items.list", thread_id=thread_id)
        assert refused.status_code == 404, f"{intruder} read {owner}'s thread"

    # The second run changes nothing.
    before = world.table()
    second = world.make()
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[-1].startswith(
        "done: threads: 0 imported, 0 updated, 5 unchanged, 0 skipped, 0 failed; items: 0 imported"
    )
    assert world.table() == before

    # A hosted item added since arrives with the third run, after the ones before it.
    hosted.add_item(
        history.long_thread,
        "user_message",
        T0 + 9000,
        content=[input_text("and oat milk")],
        attachments=[],
        inference_options=None,
    )
    hosted.add_item(history.long_thread, "assistant_message", T0 + 9000, content=[reply("Added oat milk.")])
    third = world.make("USER=alice")
    assert third.returncode == 0, third.stderr
    assert "of user alice" in third.stdout.splitlines()[0]
    assert third.stdout.splitlines()[-1].startswith(
        "done: threads: 0 imported, 1 updated, 1 unchanged, 0 skipped, 0 failed; items: 2 imported"
    )
    assert texts(world.items("alice", history.long_thread))[-3:] == [
        "answer 129",
        "and oat milk",
        "Added oat milk.",
    ]
    assert len(world.table()) == len(before) + 2


def test_imported_threads_are_listed_as_threads_list_shows_them_and_open_by_their_hosted_id(
    world: World,
) -> None:
    for user in ("alice", "bob"):
        if not world.threads(user):
            assert world.make(f"USER={user}").returncode == 0
    for user in ("alice", "bob"):
        headers = {"authorization": f"Bearer {world.tokens[user]}"}
        route, listed = thread_lists(world.stack.url, world.tokens[user], world.tokens[user])
        assert route == listed
        assert {thread_id for ids, _ in route for thread_id, _ in ids} == set(world.history.threads[user])
        # A new device opens the newest of them.
        session = httpx.post(f"{world.stack.url}/api/chatkit/session", headers=headers, timeout=60).json()
        assert session["thread_id"] == route[0][0][0][0]

    # A thread id the frontend kept (in localStorage, as the seed did) is the imported thread's.
    gym = world.history.threads["bob"][0]
    opened = world.chatkit("bob", "threads.get_by_id", thread_id=gym)
    assert opened.status_code == 200, opened.text
    assert opened.json()["title"] == "Gym plan"
    assert texts(opened.json()["items"]["data"]) == ["bob's message in Gym plan", "bob's answer in Gym plan"]
    # Another user holding the same id gets nothing.
    assert world.chatkit("alice", "threads.get_by_id", thread_id=gym).status_code == 404


def test_without_a_running_stack_the_target_says_so(tmp_path: Any) -> None:
    done = subprocess.run(
        ["make", "-s", "import-hosted-threads"],
        cwd=ROOT,
        env={**world_env(), "LOCAL_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "no local stack is running" in done.stderr


def world_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
