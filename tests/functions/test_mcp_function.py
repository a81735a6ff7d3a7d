"""McpFunction in-process against moto: what an MCP client sees for each revision and tool."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatkit_backend.aws.clients import client
from chatkit_backend.tasks.tools import TOOLS_BY_NAME
from jsonschema import Draft202012Validator

from tests.support.mcp_client import MODERN, call, modern, request, send

HANDSHAKE = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
TOOL_NAMES = ["add_task", "list_tasks", "complete_task", "update_task", "delete_task"]


def initialize(version: str) -> dict[str, Any]:
    return request(
        "initialize",
        {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
    )


def stored(aws: Any) -> list[dict[str, Any]]:
    return aws.client("dynamodb").scan(TableName=aws.physical_id("TasksTable"))["Items"]


@pytest.mark.parametrize("version", HANDSHAKE)
def test_initialize_answers_the_clients_revision(invoke: Any, version: str) -> None:
    reply = send(invoke, initialize(version))
    assert reply.status == 200
    assert reply.result["protocolVersion"] == version
    assert reply.result["capabilities"] == {"tools": {"listChanged": False}}
    assert reply.result["serverInfo"]["name"] == "chatkit-tasks"
    assert "mcp-session-id" not in reply.headers


@pytest.mark.parametrize("offered", ["2026-07-28", "2099-01-01", "1.0"])
def test_initialize_with_an_unknown_revision_answers_the_newest_handshake_one(
    invoke: Any, offered: str
) -> None:
    assert send(invoke, initialize(offered)).result["protocolVersion"] == "2025-11-25"


def test_server_discover_names_the_stateless_revision(invoke: Any) -> None:
    body, headers = modern("server/discover")
    result = send(invoke, body, headers).result
    assert result["supportedVersions"] == [MODERN]
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "public" and result["ttlMs"] >= 0
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "chatkit-tasks"


@pytest.mark.parametrize(
    "version, has_annotations, has_output_schema",
    [
        ("2024-11-05", False, False),
        ("2025-03-26", True, False),
        ("2025-06-18", True, True),
        ("2025-11-25", True, True),
        (MODERN, True, True),
    ],
)
def test_tools_list_is_stable_and_shaped_for_the_revision(
    invoke: Any, version: str, has_annotations: bool, has_output_schema: bool
) -> None:
    if version == MODERN:
        body, headers = modern("tools/list")
    else:
        body, headers = request("tools/list"), {"mcp-protocol-version": version}
    first = send(invoke, body, headers).result
    assert send(invoke, body, headers).result == first
    tools = first["tools"]
    assert [t["name"] for t in tools] == TOOL_NAMES
    for tool in tools:
        assert tool["inputSchema"]["type"] == "object"
        assert tool["inputSchema"]["additionalProperties"] is False
        assert ("annotations" in tool) is has_annotations
        assert ("outputSchema" in tool) is has_output_schema
        assert ("title" in tool) is has_output_schema
    if has_annotations:
        hints = {t["name"]: t["annotations"] for t in tools}
        assert hints["list_tasks"]["readOnlyHint"] is True
        assert hints["delete_task"]["destructiveHint"] is True
        assert hints["complete_task"]["idempotentHint"] is True
        assert hints["update_task"]["idempotentHint"] is True
        assert all(h["openWorldHint"] is False for h in hints.values())
    add = tools[0]["inputSchema"]["properties"]
    assert (add["title"]["minLength"], add["title"]["maxLength"], add["description"]["maxLength"]) == (
        1,
        200,
        1000,
    )


@pytest.mark.parametrize("version", [*HANDSHAKE, MODERN])
def test_every_tool_runs_and_answers_structured_content_and_text(invoke: Any, version: str) -> None:
    def conforms(tool: str, structured: Any) -> None:
        Draft202012Validator(TOOLS_BY_NAME[tool].output_schema).validate(structured)

    added = call(invoke, "add_task", {"title": "Buy milk", "description": "2 litres"}, version=version)
    structured = json.loads(added.result["content"][0]["text"])
    conforms("add_task", structured)
    assert structured["status"] == "created" and structured["title"] == "Buy milk"
    task_id = structured["task_id"]
    if version >= "2025-06-18":
        assert added.result["structuredContent"] == structured
    else:
        assert "structuredContent" not in added.result

    listed = json.loads(call(invoke, "list_tasks", {}, version=version).result["content"][0]["text"])
    conforms("list_tasks", listed)
    assert [(t["task_id"], t["status"]) for t in listed["tasks"]] == [(task_id, "pending")]
    assert listed["next_cursor"] is None

    for tool, arguments, outcome in [
        ("complete_task", {"task_id": task_id}, "completed"),
        ("update_task", {"task_id": task_id, "title": "Buy oat milk"}, "updated"),
        ("delete_task", {"task_id": task_id}, "deleted"),
    ]:
        result = call(invoke, tool, arguments, version=version).result
        assert result["isError"] is False
        conforms(tool, json.loads(result["content"][0]["text"]))
        assert json.loads(result["content"][0]["text"]) == {
            "task_id": task_id,
            "status": outcome,
            "title": "Buy oat milk" if outcome != "completed" else "Buy milk",
        }
    assert (
        json.loads(call(invoke, "list_tasks", {}, version=version).result["content"][0]["text"])["tasks"]
        == []
    )


def test_each_tool_call_is_one_task_request_and_one_count(invoke: Any, aws: Any) -> None:
    call(invoke, "list_tasks", {})  # the first call builds the container's client
    seen: list[tuple[str, str]] = []
    # The usage counter fails fast, so it has a client of its own: count on both.
    for fail_fast in (False, True):
        client("dynamodb", fail_fast=fail_fast).meta.events.register(
            "before-parameter-build.dynamodb.*",
            lambda model, params, **_: seen.append((model.name, params["TableName"])),
        )
    tasks_table, usage_table = aws.physical_id("TasksTable"), aws.physical_id("UsageTable")

    def one(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        seen.clear()
        result = call(invoke, tool, arguments).result
        # The per-minute limit's conditional count, then the tool's one request.
        assert [table for _, table in seen] == [usage_table, tasks_table], (tool, seen)
        assert seen[0][0] == "UpdateItem"
        return result

    task_id = one("add_task", {"title": "Count me"})["structuredContent"]["task_id"]
    one("list_tasks", {"status": "pending", "limit": 5})
    one("complete_task", {"task_id": task_id})
    one("update_task", {"task_id": task_id, "description": "once"})
    one("delete_task", {"task_id": task_id})
    assert seen[-1] == ("DeleteItem", tasks_table)


def test_two_users_never_see_each_others_tasks(invoke: Any, aws: Any) -> None:
    bobs = call(invoke, "add_task", {"title": "Bob's"}, user_id="bob").result["structuredContent"]["task_id"]
    call(invoke, "add_task", {"title": "Alice's"}, user_id="alice")
    before = stored(aws)

    alice_sees = call(invoke, "list_tasks", {}, user_id="alice").result["structuredContent"]["tasks"]
    assert [t["title"] for t in alice_sees] == ["Alice's"]
    for tool in ("complete_task", "update_task", "delete_task"):
        arguments = {"task_id": bobs, **({"title": "mine now"} if tool == "update_task" else {})}
        result = call(invoke, tool, arguments, user_id="alice").result
        assert result["isError"] is True
        assert "list_tasks" in result["content"][0]["text"]
    assert stored(aws) == before


@pytest.mark.parametrize(
    "tool, arguments, says",
    [
        ("add_task", {}, "needs title"),
        ("add_task", {"title": ""}, "must not be empty"),
        ("add_task", {"title": "   "}, "must not be empty"),
        ("add_task", {"title": "x" * 201}, "at most 200"),
        ("add_task", {"title": "ok", "description": "d" * 1001}, "at most 1000"),
        ("add_task", {"title": 5}, "must be a string"),
        ("add_task", {"title": "Buy\u0000milk"}, "control character U+0000"),
        ("add_task", {"title": "Buy milk\u001b[2J"}, "control character U+001B"),
        ("add_task", {"title": "ok", "description": "line\r\nbreak"}, "control character U+000D"),
        ("add_task", {"title": "ok\ud800"}, "control character U+D800"),
        (
            "update_task",
            {"task_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "title": "a\u007fb"},
            "control character U+007F",
        ),
        ("add_task", {"title": "ok", "user_id": "bob"}, "does not take user_id"),
        ("list_tasks", {"status": "done"}, "one of: all, pending, completed"),
        ("list_tasks", {"limit": 0}, "from 1 to 100"),
        ("list_tasks", {"limit": 2.5}, "whole number"),
        ("list_tasks", {"limit": "10"}, "whole number"),
        ("list_tasks", {"cursor": "garbage!"}, "cursor"),
        ("complete_task", {}, "needs task_id"),
        ("complete_task", {"task_id": "nope"}, "No task with id"),
        ("update_task", {"task_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "Nothing to update"),
        ("delete_task", {"task_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}, "No task with id"),
    ],
)
def test_tool_failures_are_is_error_results_the_model_can_act_on(
    invoke: Any, aws: Any, tool: str, arguments: dict[str, Any], says: str
) -> None:
    call(invoke, "add_task", {"title": "keep"})
    before = stored(aws)
    reply = call(invoke, tool, arguments)
    assert reply.status == 200
    assert reply.result["isError"] is True
    assert says in reply.result["content"][0]["text"]
    assert "structuredContent" not in reply.result
    assert stored(aws) == before


def test_list_tasks_pages_with_a_cursor(invoke: Any) -> None:
    ids = [
        call(invoke, "add_task", {"title": f"t{n}"}).result["structuredContent"]["task_id"] for n in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        arguments: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = call(invoke, "list_tasks", arguments).result["structuredContent"]
        seen += [t["task_id"] for t in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


@pytest.mark.parametrize(
    "body, headers, status, code",
    [
        (request("ping"), {"mcp-protocol-version": "2025-11-25"}, 200, None),
        (request("resources/list"), {}, 200, -32601),
        (request("tools/call", {"name": "rm_rf"}), {}, 200, -32602),
        (request("tools/call", {"arguments": {}}), {}, 200, -32602),
        (request("tools/call", {"name": "list_tasks", "arguments": []}), {}, 200, -32602),
        (request("tools/list", {"cursor": "x"}), {}, 200, -32602),
        (request("initialize", {"capabilities": {}}), {}, 200, -32602),
        (request("server/discover"), {"mcp-protocol-version": "2025-11-25"}, 200, -32601),
    ],
)
def test_handshake_era_method_errors(
    invoke: Any, body: Any, headers: dict[str, str], status: int, code: int | None
) -> None:
    reply = send(invoke, body, headers)
    assert reply.status == status
    assert reply.body["id"] == 1
    if code is None:
        assert reply.result == {}
    else:
        assert reply.error["code"] == code


def _modern_case(
    method: str, params: dict[str, Any] | None = None, **change: Any
) -> tuple[Any, dict[str, str]]:
    body, headers = modern(method, params)
    for key, value in change.items():
        if key == "meta":
            body["params"]["_meta"] = value
        elif value is None:
            headers.pop(key.replace("_", "-"), None)
        else:
            headers[key.replace("_", "-")] = value
    return body, headers


@pytest.mark.parametrize(
    "case, status, code",
    [
        (_modern_case("ping"), 404, -32601),
        (_modern_case("initialize"), 404, -32601),
        (_modern_case("tools/list", meta={}), 400, -32602),
        (_modern_case("tools/list", meta={"io.modelcontextprotocol/protocolVersion": MODERN}), 400, -32602),
        (_modern_case("tools/list", meta="x"), 400, -32602),
        (_modern_case("tools/list", mcp_method=None), 400, -32020),
        (_modern_case("tools/list", mcp_method="tools/call"), 400, -32020),
        (_modern_case("tools/call", {"name": "list_tasks"}, mcp_name="add_task"), 400, -32020),
        (_modern_case("tools/call", {"name": "list_tasks"}, mcp_name=None), 400, -32020),
        (_modern_case("tools/call", {"name": "nope"}), 400, -32602),
        (
            _modern_case(
                "tools/list",
                meta={
                    "io.modelcontextprotocol/protocolVersion": "2025-11-25",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            ),
            400,
            -32020,
        ),
    ],
)
def test_stateless_era_ladder(invoke: Any, case: tuple[Any, dict[str, str]], status: int, code: int) -> None:
    reply = send(invoke, case[0], case[1])
    assert (reply.status, reply.error["code"], reply.body["id"]) == (status, code, 1)


def test_mcp_name_may_be_base64_wrapped(invoke: Any) -> None:
    body, headers = modern("tools/call", {"name": "list_tasks", "arguments": {}})
    headers["mcp-name"] = "=?base64?bGlzdF90YXNrcw==?="
    assert send(invoke, body, headers).result["isError"] is False


@pytest.mark.parametrize("version", ["2025-11-25", MODERN, None])
def test_notifications_and_responses_get_202_and_no_body(invoke: Any, version: str | None) -> None:
    headers = {"mcp-protocol-version": version} if version else {}
    for message in (
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
    ):
        reply = send(invoke, message, headers)
        assert (reply.status, reply.body) == (202, None)
    if version != MODERN:
        reply = send(invoke, {"jsonrpc": "2.0", "id": 9, "result": {}}, headers)
        assert (reply.status, reply.body) == (202, None)


def test_batches_work_where_the_revision_has_them(invoke: Any) -> None:
    batch = [
        request("ping", request_id=1),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        request("tools/list", request_id=2),
    ]
    reply = send(invoke, batch, {"mcp-protocol-version": "2025-03-26"})
    assert reply.status == 200
    assert [m["id"] for m in reply.body] == [1, 2]
    notifications_only = send(invoke, [{"jsonrpc": "2.0", "method": "notifications/initialized"}])
    assert (notifications_only.status, notifications_only.body) == (202, None)
    in_batch = send(invoke, [initialize("2025-03-26")])
    assert in_batch.body[0]["error"]["code"] == -32600


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", MODERN])
def test_batches_are_refused_where_the_revision_removed_them(invoke: Any, version: str) -> None:
    reply = send(invoke, [request("ping")], {"mcp-protocol-version": version})
    assert (reply.status, reply.error["code"]) == (400, -32600)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_are_405_with_allow_post(invoke: Any, method: str) -> None:
    reply = send(invoke, None, method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "POST"


def test_content_type_and_accept_take_parameters(invoke: Any) -> None:
    headers = {
        "content-type": "application/json; charset=utf-8",
        "accept": "application/json;q=0.9, text/event-stream",
    }
    assert send(invoke, request("ping"), headers).status == 200


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "http://localhost:3000"}, 200),
        ({"content-type": "text/plain"}, 415),
        ({"accept": "text/event-stream"}, 406),
        ({"mcp-protocol-version": "2099-01-01"}, 400),
        ({"mcp-protocol-version": "2025-11-25,2025-11-25"}, 400),
    ],
)
def test_transport_rules(invoke: Any, headers: dict[str, str], status: int) -> None:
    assert send(invoke, request("ping"), headers).status == status


def test_unsupported_version_header_names_the_supported_ones(invoke: Any) -> None:
    reply = send(invoke, request("ping"), {"mcp-protocol-version": "2099-01-01"})
    assert reply.error["code"] == -32022
    assert reply.error["data"] == {"supported": [*HANDSHAKE, MODERN], "requested": "2099-01-01"}


def test_no_identity_is_401(invoke: Any) -> None:
    reply = send(invoke, request("ping"), user_id=None)
    assert reply.status == 401


def test_oversize_body_is_413_and_writes_nothing(invoke: Any, aws: Any) -> None:
    body, headers = modern(
        "tools/call", {"name": "add_task", "arguments": {"title": "x", "description": "y" * 70_000}}
    )
    assert send(invoke, body, headers).status == 413
    assert stored(aws) == []


@pytest.mark.parametrize("version", [*HANDSHAKE, MODERN])
def test_results_match_the_reference_sdks_schema_for_the_revision(invoke: Any, version: str) -> None:
    """Every result validates against mcp-types' per-revision wire models (what mcp 2.x clients check)."""
    from mcp_types.methods import validate_server_result

    def result(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        if version == MODERN:
            body, headers = modern(method, params)
        else:
            body, headers = request(method, params), {"mcp-protocol-version": version}
        return send(invoke, body, headers).result

    if version == MODERN:
        validate_server_result("server/discover", version, result("server/discover"))
    else:
        validate_server_result("initialize", version, send(invoke, initialize(version)).result)
        validate_server_result("ping", version, result("ping"))
    validate_server_result("tools/list", version, result("tools/list"))
    added = result("tools/call", {"name": "add_task", "arguments": {"title": "Schema"}})
    validate_server_result("tools/call", version, added)
    failed = result("tools/call", {"name": "delete_task", "arguments": {"task_id": "nope"}})
    validate_server_result("tools/call", version, failed)
    assert failed["isError"] is True
