"""POST /mcp through `make dev` with real MCP clients: the official SDK client in both eras
(server/discover and initialize), openai-agents' MCPServerStreamableHttp, and raw HTTP for the
older revisions. Every client connects with a bearer token, lists the tools, runs every tool,
and two users never see each other's tasks."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import jwt
import pytest
from agents.mcp import MCPServerStreamableHttp
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.local_stack import RunningStack

pytestmark = pytest.mark.integration

TOOL_NAMES = ["add_task", "list_tasks", "complete_task", "update_task", "delete_task"]
Mint = Callable[[str], str]


@pytest.fixture(scope="module")
def stack(local_stack: RunningStack) -> RunningStack:
    return local_stack


@pytest.fixture(scope="module")
def mint(stack: RunningStack) -> Mint:
    """``mint(user_id)``: an HS256 user token signed with the stack's UserTokenSecret."""
    secret = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]

    def token(user_id: str) -> str:
        now = int(time.time())
        return jwt.encode({"sub": user_id, "iat": now, "exp": now + 600}, secret, algorithm="HS256")

    return token


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def run_every_tool(call: Callable[[str, dict[str, Any]], Any]) -> str:
    """Add, list, complete, update and delete one task through ``call``; returns its id."""
    added = await call("add_task", {"title": "Buy milk", "description": "oat"})
    assert added["status"] == "created" and added["title"] == "Buy milk"
    task_id = added["task_id"]
    listed = await call("list_tasks", {"status": "pending"})
    assert [t["task_id"] for t in listed["tasks"]] == [task_id]
    assert (await call("complete_task", {"task_id": task_id}))["status"] == "completed"
    completed = await call("list_tasks", {"status": "completed"})
    assert [t["task_id"] for t in completed["tasks"]] == [task_id]
    updated = await call("update_task", {"task_id": task_id, "title": "Buy oat milk"})
    assert (updated["status"], updated["title"]) == ("updated", "Buy oat milk")
    assert (await call("delete_task", {"task_id": task_id}))["status"] == "deleted"
    assert (await call("list_tasks", {}))["tasks"] == []
    return task_id


async def official_client(stack: RunningStack, token: str, mode: str, check: Callable[[Client], Any]) -> Any:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(f"{stack.url}/mcp", http_client=http), mode=mode) as client,
    ):
        return await check(client)


@pytest.mark.parametrize("mode, version", [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
def test_official_sdk_client_in_both_eras(stack: RunningStack, mint: Mint, mode: str, version: str) -> None:
    async def check(client: Client) -> None:
        assert client.protocol_version == version
        tools = await client.list_tools()
        assert [tool.name for tool in tools.tools] == TOOL_NAMES

        async def call(name: str, arguments: dict[str, Any]) -> Any:
            result = await client.call_tool(name, arguments)
            assert result.is_error is False, result
            assert json.loads(result.content[0].text) == result.structured_content
            return result.structured_content

        await run_every_tool(call)
        failed = await client.call_tool("complete_task", {"task_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"})
        assert failed.is_error is True
        assert "list_tasks" in failed.content[0].text

    asyncio.run(official_client(stack, mint(new_user()), mode, check))


def test_openai_agents_streamable_http_client(stack: RunningStack, mint: Mint) -> None:
    async def scenario() -> None:
        server = MCPServerStreamableHttp(
            params={"url": f"{stack.url}/mcp", "headers": {"Authorization": f"Bearer {mint(new_user())}"}},
            client_session_timeout_seconds=30,
            cache_tools_list=True,
        )
        await server.connect()
        try:
            assert [tool.name for tool in await server.list_tools()] == TOOL_NAMES

            async def call(name: str, arguments: dict[str, Any]) -> Any:
                result = await server.call_tool(name, arguments)
                assert not result.is_error, result
                return json.loads(result.content[0].text)

            await run_every_tool(call)
        finally:
            await server.cleanup()

    asyncio.run(scenario())


def test_two_users_never_see_each_others_tasks(stack: RunningStack, mint: Mint) -> None:
    alice, bob = mint(new_user()), mint(new_user())

    async def as_user(token: str, name: str, arguments: dict[str, Any]) -> Any:
        async def check(client: Client) -> Any:
            return await client.call_tool(name, arguments)

        return await official_client(stack, token, "auto", check)

    async def scenario() -> None:
        bobs = (await as_user(bob, "add_task", {"title": "Bob's secret"})).structured_content["task_id"]
        await as_user(alice, "add_task", {"title": "Alice's task"})
        seen = (await as_user(alice, "list_tasks", {})).structured_content["tasks"]
        assert [t["title"] for t in seen] == ["Alice's task"]
        for name, arguments in [
            ("complete_task", {"task_id": bobs}),
            ("update_task", {"task_id": bobs, "title": "mine"}),
            ("delete_task", {"task_id": bobs}),
        ]:
            assert (await as_user(alice, name, arguments)).is_error is True
        bob_sees = (await as_user(bob, "list_tasks", {})).structured_content["tasks"]
        assert [(t["title"], t["status"]) for t in bob_sees] == [("Bob's secret", "pending")]

    asyncio.run(scenario())


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26", "2025-06-18"])
def test_older_revisions_over_plain_http(stack: RunningStack, mint: Mint, version: str) -> None:
    headers = {
        "Authorization": f"Bearer {mint(new_user())}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    with httpx.Client(base_url=stack.url, headers=headers, timeout=30) as http:
        init = http.post(
            "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "1"},
                },
            },
        )
        assert init.status_code == 200
        assert init.json()["result"]["protocolVersion"] == version
        assert "mcp-session-id" not in init.headers
        versioned = {} if version == "2024-11-05" else {"MCP-Protocol-Version": version}
        assert (
            http.post(
                "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=versioned
            ).status_code
            == 202
        )
        tools = http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=versioned
        ).json()
        assert [t["name"] for t in tools["result"]["tools"]] == TOOL_NAMES
        added = http.post(
            "/mcp",
            headers=versioned,
            json={
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "add_task", "arguments": {"title": "Old client"}},
            },
        ).json()["result"]
        assert json.loads(added["content"][0]["text"])["status"] == "created"


def test_gateway_and_transport_refusals(stack: RunningStack, mint: Mint) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert httpx.post(f"{stack.url}/mcp", json=ping).status_code == 401
    auth = {"Authorization": f"Bearer {mint(new_user())}"}
    got = httpx.get(f"{stack.url}/mcp", headers=auth)
    assert (got.status_code, got.headers["allow"]) == (405, "POST")
    assert httpx.delete(f"{stack.url}/mcp", headers=auth).status_code == 405
    assert (
        httpx.post(
            f"{stack.url}/mcp", json=ping, headers={**auth, "Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    assert (
        httpx.post(
            f"{stack.url}/mcp", json=ping, headers={**auth, "MCP-Protocol-Version": "1999-01-01"}
        ).status_code
        == 400
    )


def test_a_chat_sessions_token_is_refused_by_the_official_client_too(stack: RunningStack, mint: Mint) -> None:
    """A chat session's client_secret works on POST /chatkit only: /mcp refuses it, and the user's
    own token sees that nothing was added."""
    from chatkit_backend.auth.tokens import mint_session_token

    from tests.support.chat import Chat

    signing_key = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]
    user = new_user()
    chat = Chat(stack.url, {"session": mint_session_token(user, signing_key, 300).token})
    refused = chat.mcp("add_task", {"title": "No"}, "session")
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]

    async def listing(client: Client) -> Any:
        return await client.call_tool("list_tasks", {})

    seen = asyncio.run(official_client(stack, mint(user), "auto", listing)).structured_content["tasks"]
    assert seen == []
