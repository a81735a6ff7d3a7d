"""Bad requests to McpFunction: each gets the right status and error, never a 5XX, and a
rejected request writes nothing."""

from __future__ import annotations

import base64
import copy
import json
import random
from typing import Any

import pytest

from tests.support.mcp_client import JSON_HEADERS, MODERN, mcp_event, modern, request

SEED = 20261124
MUTATIONS = 200
ALLOWED_STATUSES = {200, 202, 400, 404, 406, 413, 415}


def stored(aws: Any) -> list[dict[str, Any]]:
    return aws.client("dynamodb").scan(TableName=aws.physical_id("TasksTable"))["Items"]


def invoke_raw(invoke: Any, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    event = mcp_event("POST", body, headers)
    # Hundreds of calls from one user in seconds are the fuzzer, not abuse: lift the per-minute
    # tool-call limit so every answer is the request's own (test_usage_refusals covers the limit).
    response = invoke("McpFunction", event, {"MCP_CALLS_PER_MINUTE": "1000000"})
    raw = response.get("body")
    return response["statusCode"], json.loads(raw) if raw else None


def _add(version: str) -> tuple[dict[str, Any], dict[str, str]]:
    arguments = {"title": "fuzz", "description": "d"}
    if version == MODERN:
        body, headers = modern("tools/call", {"name": "add_task", "arguments": arguments})
    else:
        body, headers = (
            request("tools/call", {"name": "add_task", "arguments": arguments}),
            {"mcp-protocol-version": version},
        )
    return body, {**JSON_HEADERS, **headers}


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{",
        "not json",
        "NaN",
        '{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": NaN}}',
        "[" * 100_00,
        '{"jsonrpc":"2.0","id":' + "9" * 5000 + ',"method":"ping"}',
        b"\xff\xfe\x00garbage",
    ],
)
def test_garbage_bodies_are_parse_errors(invoke: Any, aws: Any, body: Any) -> None:
    status, reply = invoke_raw(invoke, body, JSON_HEADERS)
    assert status == 400
    assert reply == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": reply["error"]["message"]},
    }
    assert stored(aws) == []


@pytest.mark.parametrize(
    "body, echo_id",
    [
        ("null", None),
        ("1", None),
        ('"tools/call"', None),
        ("{}", None),
        ("\ufeff{}", None),  # RFC 8259 lets a parser ignore a byte order mark; {} is still no message
        ('{"jsonrpc":"1.0","id":1,"method":"ping"}', 1),
        ('{"id":1,"method":"ping"}', 1),
        ('{"jsonrpc":"2.0","id":1}', 1),
        ('{"jsonrpc":"2.0","id":1,"method":5}', 1),
        ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1,2]}', 1),
        ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}', 1),
        ('{"jsonrpc":"2.0","id":true,"method":"ping"}', None),
        ('{"jsonrpc":"2.0","id":1.5,"method":"ping"}', None),
        ('{"jsonrpc":"2.0","id":null,"method":"ping"}', None),
        ('{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', None),
        ('{"jsonrpc":"2.0","id":1,"result":{},"error":{}}', 1),
        ("[]", None),
    ],
)
def test_invalid_messages_are_invalid_request(invoke: Any, aws: Any, body: str, echo_id: Any) -> None:
    status, reply = invoke_raw(invoke, body, JSON_HEADERS)
    assert status == 400
    assert reply["error"]["code"] == -32600
    assert reply["id"] == echo_id


@pytest.mark.parametrize("version", ["2025-06-18", MODERN])
@pytest.mark.parametrize(
    "change, status, code",
    [
        ({"mcp-protocol-version": "2024-13-01"}, 400, -32022),
        ({"mcp-protocol-version": ""}, 400, -32022),
        ({"origin": "https://attacker.example"}, 403, None),
        ({"content-type": "application/x-www-form-urlencoded"}, 415, None),
        ({"accept": "text/html"}, 406, None),
    ],
)
def test_wrong_headers_are_refused_before_anything_runs(
    invoke: Any, aws: Any, version: str, change: dict[str, str], status: int, code: int | None
) -> None:
    body, headers = _add(version)
    got, reply = invoke_raw(invoke, body, {**headers, **change})
    assert got == status
    if code is not None:
        assert reply["error"]["code"] == code
    assert stored(aws) == []


@pytest.mark.parametrize(
    "path, value, handshake, stateless",
    [
        (("params", "name"), None, (200, -32602), (400, -32602)),
        (("params", "arguments"), "title=x", (200, -32602), (400, -32602)),
        # Without params a stateless request has no _meta envelope.
        (("params",), None, (200, -32602), (400, -32602)),
        # The Mcp-Method header still says tools/call: the stateless era reports the mismatch.
        (("method",), "tools/calls", (200, -32601), (400, -32020)),
        # Without an id the message is a notification: acknowledged, never run.
        (("id",), None, (202, None), (202, None)),
        (("jsonrpc",), None, (400, -32600), (400, -32600)),
    ],
)
@pytest.mark.parametrize("version", ["2025-06-18", MODERN])
def test_missing_or_mistyped_fields_are_json_rpc_errors(
    invoke: Any, aws: Any, version: str, path: tuple[str, ...], value: Any, handshake: Any, stateless: Any
) -> None:
    body, headers = _add(version)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is None:
        target.pop(path[-1])
    else:
        target[path[-1]] = value
    status, reply = invoke_raw(invoke, body, headers)
    expected = stateless if version == MODERN else handshake
    assert (status, reply and reply["error"]["code"]) == expected
    assert stored(aws) == []


def _mutate(rng: random.Random, body: dict[str, Any], headers: dict[str, str]) -> tuple[Any, dict[str, str]]:
    body = copy.deepcopy(body)
    headers = dict(headers)
    junk = [None, 0, -1, 2**70, 1.5, True, "", "x" * 300, [], {}, ["a"], {"a": 1}, "\u0000", "tools/list"]

    def containers(node: Any, found: list[Any]) -> list[Any]:
        if isinstance(node, dict | list):
            found.append(node)
            for child in node.values() if isinstance(node, dict) else node:
                containers(child, found)
        return found

    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.2 and headers:
            name = rng.choice(sorted(headers))
            if rng.random() < 0.5:
                headers.pop(name)
            else:
                headers[name] = rng.choice(["", "2025-11-25", MODERN, "tools/call", "list_tasks", "garbage"])
            continue
        target = rng.choice(containers(body, []))
        if isinstance(target, dict) and target:
            key = rng.choice(sorted(target))
            action = rng.random()
            if action < 0.35:
                target.pop(key)
            elif action < 0.5:
                target[key + "_"] = target.pop(key)
            else:
                target[key] = rng.choice(junk)
        elif isinstance(target, list) and target:
            target[rng.randrange(len(target))] = rng.choice(junk)
    return body, headers


def test_random_mutations_of_valid_requests_never_5xx_and_rejections_write_nothing(
    invoke: Any, aws: Any
) -> None:
    rng = random.Random(SEED)
    valid = [_add(version) for version in ("2025-03-26", "2025-06-18", "2025-11-25", MODERN)]
    rejected = 0
    for n in range(MUTATIONS):
        body, headers = _mutate(rng, *rng.choice(valid))
        before = stored(aws)
        status, reply = invoke_raw(invoke, body, headers)
        assert status in ALLOWED_STATUSES, (n, body, headers, status, reply)
        if status == 202:
            assert reply is None
            accepted = False
        else:
            assert reply["jsonrpc"] == "2.0", reply
            accepted = status == 200 and "result" in reply and reply["result"].get("isError") is False
        if not accepted:
            rejected += 1
            assert stored(aws) == before, (n, body, headers, status, reply)
    # The seed must exercise rejections, not only harmless changes.
    assert rejected > MUTATIONS // 2


@pytest.mark.parametrize("encoded", [False, True])
@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024, 6 * 1024 * 1024])
def test_oversize_bodies_are_413_and_write_nothing(invoke: Any, aws: Any, size: int, encoded: bool) -> None:
    body, headers = _add("2025-11-25")
    body["params"]["arguments"]["description"] = "x" * size
    event = mcp_event("POST", body, headers)
    if encoded:
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    response = invoke("McpFunction", event)
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["error"]["code"] == -32600
    assert stored(aws) == []


LONE_SURROGATE = "\ud800"  # JSON's "\ud800": a valid escape that no UTF-8 text can carry raw


def _handshake_call(tool: str, arguments: dict[str, Any], request_id: Any = 1) -> dict[str, Any]:
    return request("tools/call", {"name": tool, "arguments": arguments}, request_id)


@pytest.mark.parametrize(
    "where, body, answer",
    [
        ("id", request("tools/list", {}, LONE_SURROGATE), "add_task"),
        ("method", request(LONE_SURROGATE, {}), -32601),
        ("tool name", _handshake_call(LONE_SURROGATE, {}), -32602),
        (
            "argument name",
            _handshake_call("add_task", {"title": "x", LONE_SURROGATE: 1}),
            f"take {LONE_SURROGATE};",
        ),
        ("argument value", _handshake_call("add_task", {"title": LONE_SURROGATE}), "U+D800"),
        ("task id", _handshake_call("complete_task", {"task_id": LONE_SURROGATE}), f"id '{LONE_SURROGATE}'"),
        ("cursor", _handshake_call("list_tasks", {"cursor": LONE_SURROGATE}), "cursor is not valid"),
    ],
)
def test_a_lone_surrogate_anywhere_is_answered_and_echoed_escaped(
    invoke: Any, aws: Any, where: str, body: dict[str, Any], answer: str | int
) -> None:
    """The answer repeats what the client sent (its id, the unknown method or tool, the argument)
    escaped as the client sent it: Lambda's runtime sends every answer as UTF-8, which cannot
    hold the raw surrogate (the invoke fixture marshals each result as the runtime does)."""
    headers = {**JSON_HEADERS, "mcp-protocol-version": "2025-06-18"}
    status, reply = invoke_raw(invoke, body, headers)
    assert status == 200
    assert reply["id"] == body["id"]
    if isinstance(answer, int):
        assert reply["error"]["code"] == answer
    else:
        assert answer in json.dumps(reply["result"], ensure_ascii=False), reply
    assert stored(aws) == []
