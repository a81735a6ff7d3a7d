"""POST /mcp through `make dev` as MCP Apps hosts and plain clients meet it: the official Python
client offering the extension in both eras (2026-07-28 per request, the initialize era through
the session id its initialize is answered with), the same client without it, and the official
conformance suite (npm, pinned by tests/support/mcp_conformance/package-lock.json)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from local.standins.loopback import serve
from tests.support.local_stack import RunningStack, start_stack
from tests.support.node import npm_ci, require_node

pytestmark = pytest.mark.integration

UI = "io.modelcontextprotocol/ui"
MIME_TYPE = "text/html;profile=mcp-app"
VIEW_URI = "ui://tasks/list"
VIEW_FILE = Path(__file__).resolve().parents[2] / "layers/shared/python/chatkit_backend/mcp/task_view.html"
CONFORMANCE = Path(__file__).resolve().parents[1] / "support" / "mcp_conformance"
ERAS = [("auto", "2026-07-28"), ("legacy", "2025-11-25")]


@pytest.fixture(scope="module")
def stack(local_stack: RunningStack) -> RunningStack:
    return local_stack


async def connected(
    stack: RunningStack, user: str, mode: str, offer_apps: bool, check: Callable[[Client], Any]
) -> Any:
    extensions = [advertise(UI, {"mimeTypes": [MIME_TYPE]})] if offer_apps else None
    headers = {"Authorization": f"Bearer {stack.user_token(user)}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(f"{stack.url}/mcp", http_client=http), mode=mode, extensions=extensions
        ) as client,
    ):
        return await check(client)


@pytest.mark.parametrize("mode, version", ERAS)
def test_a_host_offering_the_extension_gets_the_view(stack: RunningStack, mode: str, version: str) -> None:
    async def check(client: Client) -> None:
        assert client.protocol_version == version
        assert client.server_capabilities.extensions == {UI: {}}
        assert client.server_capabilities.resources is not None
        views = {tool.name: (tool.meta or {}).get("ui") for tool in (await client.list_tools()).tools}
        assert views == {
            "add_task": {"resourceUri": VIEW_URI},
            "list_tasks": {"resourceUri": VIEW_URI},
            "complete_task": {"resourceUri": VIEW_URI},
            "update_task": {"resourceUri": VIEW_URI},
            "delete_task": None,
        }
        [resource] = (await client.list_resources()).resources
        assert (str(resource.uri), resource.mime_type) == (VIEW_URI, MIME_TYPE)
        [view] = (await client.read_resource(VIEW_URI)).contents
        assert (str(view.uri), view.mime_type, view.text) == (VIEW_URI, MIME_TYPE, VIEW_FILE.read_text())
        assert view.meta == {"ui": {"csp": {}, "prefersBorder": True}}
        with pytest.raises(MCPError) as unknown:
            await client.read_resource("ui://tasks/nothing-here")
        assert unknown.value.error.code == -32602
        added = await client.call_tool("add_task", {"title": "From a host"})
        assert added.structured_content["status"] == "created"

    asyncio.run(connected(stack, f"host-{mode}", mode, True, check))


@pytest.mark.parametrize("mode, version", ERAS)
def test_a_client_without_the_extension_sees_no_view(stack: RunningStack, mode: str, version: str) -> None:
    async def check(client: Client) -> None:
        assert client.protocol_version == version
        assert client.server_capabilities.extensions is None
        assert client.server_capabilities.resources is None
        assert all(tool.meta is None for tool in (await client.list_tools()).tools)
        with pytest.raises(MCPError) as refused:
            await client.read_resource(VIEW_URI)
        assert refused.value.error.code == -32601

    asyncio.run(connected(stack, f"plain-{mode}", mode, False, check))


def bearer_proxy(route: dict[str, str]) -> type[BaseHTTPRequestHandler]:
    """Forwards every request to ``route["target"]`` with ``Authorization: Bearer <route["token"]>``,
    as an MCP client configured with a token does: the conformance suite's client sends none."""

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
            answer = httpx.request(
                self.command,
                f"{route['target']}{self.path}",
                headers={**headers, "authorization": f"Bearer {route['token']}"},
                content=body,
                timeout=30,
            )
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in {
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "content-encoding",
                }:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_DELETE = forward

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Proxy


def test_the_official_conformance_suite_passes() -> None:
    """The suite's active scenarios, but those that need its own Everything server's fixtures
    (baseline.yml says which and why; a listed scenario that passes fails the run too)."""
    require_node()
    npm_ci(CONFORMANCE)
    route: dict[str, str] = {}
    # The DNS rebinding scenario sends the Origin of the URL it tests, and expects it accepted.
    with serve(bearer_proxy(route)) as proxy, start_stack({"ALLOWED_ORIGINS": proxy}) as stack:
        route.update(target=stack.url, token=stack.user_token("conformance"))
        done = subprocess.run(
            [
                str(CONFORMANCE / "node_modules" / ".bin" / "conformance"),
                "server",
                "--url",
                f"{proxy}/mcp",
                "--expected-failures",
                str(CONFORMANCE / "baseline.yml"),
            ],
            cwd=CONFORMANCE,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    summary = done.stdout[done.stdout.find("=== SUMMARY ===") :]
    assert done.returncode == 0, (summary or done.stdout[-4000:]) + done.stderr[-2000:]
    for scenario in ("server-initialize", "ping", "tools-list", "dns-rebinding-protection"):
        assert f"✓ {scenario}:" in summary, summary
