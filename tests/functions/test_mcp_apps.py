"""McpFunction's MCP Apps side (the task view), in-process against moto, in both protocol eras:
what a client that offers the extension gets, and that a client that does not gets exactly what
it got before, byte for byte (mcp_answers_without_apps.json, captured from main)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.standins.oauth_server import AuthorizationServer, serve_authorization_server
from tests.support.mcp_client import JSON_HEADERS, MODERN, Reply, mcp_event, modern, request, send

HANDSHAKE = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
VERSIONS = [*HANDSHAKE, MODERN]
UI = "io.modelcontextprotocol/ui"
MIME_TYPE = "text/html;profile=mcp-app"
APPS = {"extensions": {UI: {"mimeTypes": [MIME_TYPE]}}}
VIEW_URI = "ui://tasks/list"
VIEW_FILE = Path(__file__).resolve().parents[2] / "layers/shared/python/chatkit_backend/mcp/task_view.html"
BEFORE = json.loads((Path(__file__).with_name("mcp_answers_without_apps.json")).read_text())
BEFORE.pop("_about")
# The tools whose results the view shows.
VIEW_TOOLS = {"list_tasks", "add_task", "complete_task", "update_task"}


def initialize(version: str, capabilities: dict[str, Any]) -> dict[str, Any]:
    return request(
        "initialize",
        {
            "protocolVersion": version,
            "capabilities": capabilities,
            "clientInfo": {"name": "host", "version": "1"},
        },
    )


def session(invoke: Any, version: str, user_id: str = "user-1") -> str:
    """The Mcp-Session-Id an initialize that offers MCP Apps is answered with."""
    return send(invoke, initialize(version, APPS), user_id=user_id).headers["mcp-session-id"]


def as_host(
    invoke: Any, version: str, method: str, params: dict[str, Any] | None = None, user_id: str = "user-1"
) -> Reply:
    """A request from a client that offered MCP Apps, in the given revision's framing."""
    if version == MODERN:
        body, headers = modern(method, params, capabilities=APPS)
    else:
        body = request(method, params)
        headers = {"mcp-protocol-version": version, "mcp-session-id": session(invoke, version, user_id)}
    return send(invoke, body, headers, user_id=user_id)


def plain(invoke: Any, version: str, method: str, params: dict[str, Any] | None = None) -> Reply:
    """The same request from a client that did not offer the extension."""
    if version == MODERN:
        body, headers = modern(method, params)
    else:
        body, headers = request(method, params), {"mcp-protocol-version": version}
    return send(invoke, body, headers)


@pytest.mark.parametrize("case", sorted(BEFORE))
def test_a_client_without_the_extension_gets_exactly_what_it_got_before(invoke: Any, case: str) -> None:
    before = BEFORE[case]
    headers = {**JSON_HEADERS, **before["request"]["headers"]}
    response = invoke("McpFunction", mcp_event("POST", before["request"]["body"], headers))
    assert (response["statusCode"], response["body"]) == (before["status"], before["body"])
    assert "mcp-session-id" not in response["headers"]


def test_a_session_id_that_is_not_an_apps_one_changes_nothing(invoke: Any) -> None:
    for session_id in ("abc", "8d7e-mcp-apps.", "MCP-APPS.1234"):
        reply = send(
            invoke,
            request("tools/list"),
            {"mcp-protocol-version": "2025-11-25", "mcp-session-id": session_id},
        )
        assert (
            json.dumps(reply.body, separators=(",", ":"), ensure_ascii=False)
            == BEFORE["2025-11-25 tools/list"]["body"]
        )


@pytest.mark.parametrize("version", HANDSHAKE)
def test_initialize_with_the_extension_answers_the_view_and_a_session_that_says_so(
    invoke: Any, version: str
) -> None:
    first = send(invoke, initialize(version, APPS))
    second = send(invoke, initialize(version, APPS))

    assert first.result["capabilities"] == {
        "tools": {"listChanged": False},
        "resources": {"listChanged": False},
        "extensions": {UI: {}},
    }
    assert re.fullmatch(r"mcp-apps\.[0-9a-f]{32}", first.headers["mcp-session-id"])
    assert first.headers["mcp-session-id"] != second.headers["mcp-session-id"]


def test_server_discover_with_the_extension_answers_the_view(invoke: Any) -> None:
    result = as_host(invoke, MODERN, "server/discover").result
    assert result["capabilities"] == {
        "tools": {"listChanged": False},
        "resources": {"listChanged": False},
        "extensions": {UI: {}},
    }
    assert (result["ttlMs"], result["cacheScope"], result["resultType"]) == (60_000, "public", "complete")


@pytest.mark.parametrize("version", VERSIONS)
def test_tools_list_names_the_view_on_the_tools_whose_results_it_shows(invoke: Any, version: str) -> None:
    tools = as_host(invoke, version, "tools/list").result["tools"]
    without = plain(invoke, version, "tools/list").result["tools"]

    assert [tool["name"] for tool in tools] == [tool["name"] for tool in without]
    for tool, before in zip(tools, without, strict=True):
        if tool["name"] in VIEW_TOOLS:
            # Seen by the model and callable by the view (the default visibility): nothing is app-only.
            assert tool == {**before, "_meta": {"ui": {"resourceUri": VIEW_URI}}}
        else:
            assert tool == before


@pytest.mark.parametrize("version", VERSIONS)
def test_resources_list_names_the_view(invoke: Any, version: str) -> None:
    listed = as_host(invoke, version, "resources/list").result
    templates = as_host(invoke, version, "resources/templates/list").result

    assert listed["resources"] == [
        {
            "uri": VIEW_URI,
            "name": "task_list",
            "title": "Your tasks",
            "description": listed["resources"][0]["description"],
            "mimeType": MIME_TYPE,
            "_meta": {"ui": {"csp": {}, "prefersBorder": True}},
        }
    ]
    assert templates["resourceTemplates"] == []
    if version == MODERN:
        assert (listed["ttlMs"], listed["cacheScope"], listed["resultType"]) == (60_000, "public", "complete")


@pytest.mark.parametrize("version", VERSIONS)
def test_resources_read_answers_the_view_as_built(invoke: Any, version: str) -> None:
    result = as_host(invoke, version, "resources/read", {"uri": VIEW_URI}).result

    [view] = result["contents"]
    assert view == {
        "uri": VIEW_URI,
        "mimeType": MIME_TYPE,
        "text": VIEW_FILE.read_text(encoding="utf-8"),
        "_meta": {"ui": {"csp": {}, "prefersBorder": True}},
    }
    assert view["text"].startswith("<!doctype html>")
    if version == MODERN:
        assert (result["ttlMs"], result["cacheScope"], result["resultType"]) == (60_000, "public", "complete")


def test_the_view_loads_nothing_and_holds_no_user_data(invoke: Any) -> None:
    for title in ("Alice's dentist appointment", "Alice's tax return"):
        assert as_host(
            invoke, MODERN, "tools/call", {"name": "add_task", "arguments": {"title": title}}, "alice"
        )
    alices = as_host(invoke, MODERN, "resources/read", {"uri": VIEW_URI}, "alice").result
    bobs = as_host(invoke, MODERN, "resources/read", {"uri": VIEW_URI}, "bob").result

    assert alices == bobs
    html = alices["contents"][0]["text"]
    assert "Alice" not in html and "alice" not in html
    # One document: no script, style sheet, image, frame or font is fetched from anywhere.
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html, re.IGNORECASE)
    [style] = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert not re.search(r"@import|url\(", style)


BAD_URIS = [
    pytest.param("ui://tasks/other", "Resource not found", id="another view"),
    pytest.param("ui://tasks/list/", "Resource not found", id="trailing slash"),
    pytest.param("UI://TASKS/LIST", "Resource not found", id="other case"),
    pytest.param("ui://tasks/list?user=bob", "Resource not found", id="query"),
    pytest.param("https://example.com/view.html", "Resource not found", id="not ui"),
    pytest.param("", "Resource not found", id="empty"),
    pytest.param(7, "needs params.uri", id="not a string"),
    pytest.param(None, "needs params.uri", id="missing"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("uri, says", BAD_URIS)
def test_an_unknown_resource_is_a_json_rpc_error(invoke: Any, version: str, uri: Any, says: str) -> None:
    reply = as_host(invoke, version, "resources/read", {} if uri is None else {"uri": uri})

    assert reply.error["code"] == -32602
    assert says in reply.error["message"]
    # 2026-07-28 maps invalid params to 400; the initialize era answers method errors with 200.
    assert reply.status == (400 if version == MODERN else 200)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("method", ["resources/list", "resources/templates/list", "resources/read"])
def test_a_client_without_the_extension_has_no_resources(invoke: Any, version: str, method: str) -> None:
    reply = plain(invoke, version, method, {"uri": VIEW_URI} if method == "resources/read" else None)

    assert reply.error["code"] == -32601
    assert reply.status == (404 if version == MODERN else 200)


@pytest.mark.parametrize("version", VERSIONS)
def test_tool_results_are_the_same_with_or_without_the_extension(invoke: Any, version: str) -> None:
    def added(reply: Reply) -> dict[str, Any]:
        return json.loads(reply.result["content"][0]["text"])

    with_view = added(
        as_host(invoke, version, "tools/call", {"name": "add_task", "arguments": {"title": "A"}})
    )
    without = added(plain(invoke, version, "tools/call", {"name": "add_task", "arguments": {"title": "A"}}))
    assert with_view.keys() == without.keys() and with_view["task_id"] != without["task_id"]
    listed = as_host(invoke, version, "tools/call", {"name": "list_tasks", "arguments": {}}).result
    assert listed == plain(invoke, version, "tools/call", {"name": "list_tasks", "arguments": {}}).result


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthorizationServer]:
    with serve_authorization_server() as server:
        yield server


ADD_FROM_THE_VIEW = {"name": "add_task", "arguments": {"title": "From the view"}}
SCOPES = [
    pytest.param("openid", "resources/read", {"uri": VIEW_URI}, 403, id="the view needs tasks:read"),
    pytest.param("tasks:read", "resources/read", {"uri": VIEW_URI}, 200, id="tasks:read reads the view"),
    pytest.param(
        "tasks:read", "tools/call", ADD_FROM_THE_VIEW, 403, id="the view's changes need tasks:write"
    ),
    pytest.param(
        "tasks:read tasks:write", "tools/call", ADD_FROM_THE_VIEW, 200, id="both scopes change tasks"
    ),
]


@pytest.mark.parametrize("scope, method, params, status", SCOPES)
def test_the_views_requests_meet_the_same_scopes_as_every_other(
    invoke: Any,
    auth_server: AuthorizationServer,
    scope: str,
    method: str,
    params: dict[str, Any],
    status: int,
) -> None:
    env = {"MCP_AUTHORIZATION_SERVER": auth_server.issuer}

    def post(message: dict[str, Any], scopes: str, **headers: str) -> dict[str, Any]:
        token = auth_server.mint("alice", resource="http://127.0.0.1/mcp", scope=scopes)
        sent = {**JSON_HEADERS, **headers, "authorization": f"Bearer {token}"}
        return invoke("McpFunction", mcp_event("POST", message, sent, user_id=None), env)

    session_id = post(initialize("2025-11-25", APPS), "tasks:read tasks:write")["headers"]["mcp-session-id"]
    headers = {"mcp-protocol-version": "2025-11-25", "mcp-session-id": session_id}

    answered = post(request(method, params), scope, **headers)

    assert answered["statusCode"] == status
    if status == 403:
        assert 'error="insufficient_scope"' in answered["headers"]["www-authenticate"]
