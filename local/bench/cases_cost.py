"""`make bench ONLY=cost`: what a chat turn and an MCP tool call cost in AWS, per 1,000, the model
not counted; and a month at three volumes beside the seed's FastAPI monolith on the smallest
always-on container. Prices: us-east-1 list prices (``PRICES``), each with its source and the date
it was read in docs/cost.md.

Measured here, on a stack started for the group (as the turn group starts its own), with the
turn group's workload (the model calls ``list_tasks`` for a user with three tasks, then answers):

- chat turns on ChatKitFunction's app in process: the DynamoDB requests of each (their items'
  real sizes, read back from the stack's moto, give the request units: ``dynamodb_units``), the
  bytes the function prints (log and metric lines) and streams, and its duration in AWS as the
  turn group models it (own work + the round trips it waits for x DynamoDB's published latency);
- each of the five MCP tools through McpFunction's handler in process, the same way;
- the authorizer's warm check of a user token, in process.

What AWS adds around a request is counted from AWS's documented formats: Lambda's START, END and
REPORT lines, the API access log line of the template's format. Lambda bills its duration in whole
milliseconds; a chat turn is billed for the model's time too, which is left out and given per
second instead.
"""

from __future__ import annotations

import functools
import io
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local.bench.cases_turn import (
    DYNAMODB_ROUND_TRIP_MS,
    WARM_UP,
    _environment,
    _FloorClient,
    _InProcess,
    _Request,
    _rounds,
    _store_openai_key,
    dynamodb_recorder,
    load_function,
    modelled_ms,
)
from local.bench.dynamodb_units import index_writes, item_size, read_units, write_units
from local.bench.load import LOAD_CALLS_PER_MINUTE, LoadGroup, Row, dev_stack, mcp_request, user_tokens
from local.bench.prices import PRICES, billed_ms, gb_second_usd, lambda_call_usd

GROUP = "cost in AWS (us-east-1 list prices, the model not counted)"
TURNS = 20
CALLS = 20
GB = 1024**3
HOURS_A_MONTH = 730
SECONDS_A_MONTH = HOURS_A_MONTH * 3600
# A chat turn's token is checked at most once a minute per token (the authorizer's cache,
# ReauthorizeEvery: 60); a user's turns come one every ~30 s, so every other turn pays one.
AUTHORIZER_CALLS_PER_TURN = 0.5
# Lines the monolith pays as the serverless stack does: the same tables, logs and traffic out.
SHARED = ("DynamoDB", "CloudWatch", "Data transfer", "S3")
# Lines a month counts by their own rule rather than per turn: X-Ray's default sampling, and one
# read of the OpenAI key a minute by a warm sandbox.
MONTHLY_RULES = ("X-Ray traces", "Secrets Manager reads")
# The seed's monolith: the smallest Fargate task (0.25 vCPU, 0.5 GB, Linux/ARM) with a public IPv4.
MONOLITH_VCPU, MONOLITH_GB = 0.25, 0.5
VOLUMES = (1_000, 100_000, 10_000_000)
TOOLS = ("list_tasks", "add_task", "complete_task", "update_task", "delete_task")


@dataclass
class Usage:
    """What one request costs, in AWS's units."""

    lambda_ms: float = 0.0  # billed duration of the function (whole ms), at ``memory_mb``
    memory_mb: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    logged_bytes: int = 0  # the function's lines and AWS's around them
    streamed_bytes: int = 0  # the answer, out to the internet
    lines: list[str] = field(default_factory=list)  # how the DynamoDB units were counted
    own_ms: float = 0.0  # the server's own work (CPU on this machine's core)
    metric_series: set[str] = field(default_factory=set)  # the EMF metrics it printed


def cost_group() -> LoadGroup:
    def measure(url: str, tokens_for: Callable[[list[str]], dict[str, str]]) -> list[Row]:
        from local.standins.openai import call, fake_responses, text

        limits = {"CHATKIT_MESSAGES_PER_MINUTE": str(LOAD_CALLS_PER_MINUTE)}
        with (
            fake_responses() as model,
            _environment(
                OPENAI_BASE_URL=model.url, MCP_CALLS_PER_MINUTE=str(LOAD_CALLS_PER_MINUTE), **limits
            ),
            dev_stack() as state,
        ):
            key = f"sk-bench-{uuid.uuid4().hex}"
            _store_openai_key(state, key)
            local = _InProcess(state, model)
            local.seed_tasks(local.USER)
            aws = _Aws(state)
            authorizer_ms = _authorizer_ms(state)
            tool_calls = _tool_calls(state, aws)

            def script_turn() -> None:
                model.script(
                    call("list_tasks"), text("You have two tasks to do and one done.", pieces=1, pause=0)
                )

            script_turn()
            thread_id = local.create("What is on my list?")
            floor = _FloorClient(model.url, key)
            turns: list[Usage] = []
            for index in range(WARM_UP + TURNS):
                script_turn()
                sent = len(model.requests)
                with _printed() as printed:
                    turn = local.turn(thread_id, "And now?")
                script_turn()
                as_given = floor.replay(model.requests[sent : sent + 2], as_given=True)
                if index >= WARM_UP:
                    usage = aws.usage(
                        [r for batch in turn.rounds for r in batch],
                        memory_mb=_memory("ChatKitFunction"),
                        own_ms=turn.took_ms - turn.waited_ms - as_given,
                        round_trips=len(turn.waited_rounds),
                        printed=printed.getvalue(),
                        streamed_bytes=local.last_body_bytes,
                    )
                    turns.append(usage)
            floor.close()
            local.close()
        return _rows(_median(turns), tool_calls, authorizer_ms)

    return LoadGroup(GROUP, measure)


class _Aws:
    """The stack's moto, read back to size what a turn's requests touched."""

    def __init__(self, state: dict[str, Any]) -> None:
        from local.emulator.stack import LocalAws

        self.client = LocalAws(state["aws_endpoint_url"], state["region"]).client("dynamodb")
        self.tables = {physical: logical for logical, physical in state["resources"].items()}
        self.index_keys = _index_keys()

    def usage(
        self,
        requests: list[_Request],
        *,
        memory_mb: int,
        own_ms: float,
        round_trips: int,
        printed: str,
        streamed_bytes: int,
    ) -> Usage:
        """One request's usage: its DynamoDB units, its billed duration in AWS as the turn group
        models it, what it and Lambda print, what it streams."""
        usage = self.units(requests)
        usage.memory_mb = memory_mb
        usage.own_ms = own_ms
        usage.lambda_ms = billed_ms(modelled_ms(own_ms, round_trips))
        usage.logged_bytes = len(printed.encode()) + _platform_bytes(usage.lambda_ms, memory_mb)
        usage.metric_series = _metric_series(printed)
        usage.streamed_bytes = streamed_bytes
        return usage

    def units(self, requests: list[_Request]) -> Usage:
        usage = Usage()
        for request in requests:
            reads, writes, how = self._units(request.operation, request.params)
            usage.read_units += reads
            usage.write_units += writes
            usage.lines.append(how)
        return usage

    def _units(self, operation: str, params: dict[str, Any]) -> tuple[float, float, str]:
        table = params.get("TableName") or next(iter(params.get("RequestItems") or {}), "")
        logical = self.tables.get(table, table)
        index_key = self.index_keys.get(logical)
        if operation == "GetItem":
            item = self.client.get_item(TableName=table, Key=params["Key"], ConsistentRead=True).get(
                "Item", {}
            )
            units = read_units([item_size(item)], params.get("ConsistentRead", False))
            return units, 0, f"{logical} GetItem {item_size(item)} B: {units} RRU"
        if operation == "Query":
            # Charged for every item it reads, whatever the projection keeps: read them whole.
            query = {
                k: v
                for k, v in params.items()
                if k not in ("ProjectionExpression", "ExpressionAttributeNames")
            }
            sizes = [item_size(item) for item in self.client.query(**query).get("Items", [])]
            units = read_units(sizes, params.get("ConsistentRead", False))
            return units, 0, f"{logical} Query {len(sizes)} items, {sum(sizes)} B: {units} RRU"
        if operation == "PutItem":
            return 0, *self._put(logical, index_key, params["Item"])
        if operation == "UpdateItem":
            # The larger of the item before and after: after, for a counter that only grows. An
            # item in an index rewrites its entry too, twice over when the index's key changes.
            item = self.client.get_item(TableName=table, Key=params["Key"], ConsistentRead=True).get(
                "Item", {}
            )
            base = write_units(item_size(item))
            update = params["UpdateExpression"] + " ".join(
                params.get("ExpressionAttributeNames", {}).values()
            )
            entries = (2 if index_key in update else 1) if index_key and index_key in item else 0
            units = base + entries * base
            return (
                0,
                units,
                f"{logical} UpdateItem {item_size(item)} B: {base} WRU + {entries * base} for its index entry",
            )
        if operation == "DeleteItem":
            # The item is gone: a task of the bench, under 1 KB like the others it reads.
            units = 2 if index_key else 1
            return 0, units, f"{logical} DeleteItem (under 1 KB): {units} WRU, its index entry included"
        if operation == "BatchWriteItem":
            total, parts = 0, []
            for each in params["RequestItems"][table]:
                units, how = self._put(logical, index_key, each["PutRequest"]["Item"])
                total += units
                parts.append(how)
            return 0, total, "BatchWriteItem: " + "; ".join(parts)
        if operation == "TransactWriteItems":
            total, parts = 0, []
            for each in params["TransactItems"]:
                put = each["Put"]
                name = self.tables.get(put["TableName"], put["TableName"])
                units, how = self._put(name, self.index_keys.get(name), put["Item"], transactional=True)
                total += units
                parts.append(how)
            return 0, total, "TransactWriteItems: " + "; ".join(parts)
        raise ValueError(f"no unit rule for {operation}")

    @staticmethod
    def _put(
        logical: str, index_key: str | None, item: dict[str, Any], transactional: bool = False
    ) -> tuple[int, str]:
        base = write_units(item_size(item), transactional)
        index = (
            [write_units(size, transactional) for size in index_writes(None, item, index_key)]
            if index_key
            else []
        )
        return base + sum(
            index
        ), f"{logical} put {item_size(item)} B: {base} WRU + {sum(index)} for its index entry"


def _tool_calls(state: dict[str, Any], aws: _Aws) -> dict[str, Usage]:
    """Each MCP tool through McpFunction's handler in this process (its own environment), on the
    user's three tasks: median usage per tool."""
    from local.emulator.events import http_event
    from local.emulator.runtime import LambdaContext

    # Its environment stays in os.environ, over ChatKitFunction's, until _InProcess.close.
    mcp = load_function(state, "McpFunction")
    spec, handler = mcp.spec, mcp.handler
    user = "bench-cost-mcp"
    token = user_tokens(state, [user])[user]
    _InProcess.seed_tasks(user)
    requests = dynamodb_recorder().requests
    usage: dict[str, list[Usage]] = {tool: [] for tool in TOOLS}
    for index in range(WARM_UP + CALLS):
        # A task's life: listed among the user's three, added, completed, renamed, deleted again.
        task_id = ""
        for tool in TOOLS:
            arguments = {
                "list_tasks": {},
                "add_task": {"title": f"Task {index}", "description": "From the bench"},
                "complete_task": {"task_id": task_id},
                "update_task": {"task_id": task_id, "title": "Buy oat milk"},
                "delete_task": {"task_id": task_id},
            }[tool]
            body, headers = mcp_request(tool, arguments, token)
            event = http_event("POST", "/mcp", body=body.decode(), headers=headers, user_id=None)
            requests.clear()
            with _printed() as printed:
                started = time.perf_counter()
                answer = handler(event, LambdaContext(spec, state["region"]))
                took = (time.perf_counter() - started) * 1000
            if answer["statusCode"] != 200 or '"isError":true' in answer["body"]:
                raise RuntimeError(f"{tool} failed: {answer['body'][:300]}")
            if tool == "add_task":
                task_id = json.loads(answer["body"])["result"]["structuredContent"]["task_id"]
            if index < WARM_UP:
                continue
            waited = sum((r.ended - r.began) for r in requests) * 1000
            each = aws.usage(
                requests,
                memory_mb=spec.memory_mb,
                own_ms=max(0.0, took - waited),
                round_trips=len(_rounds(requests)),
                printed=printed.getvalue(),
                streamed_bytes=len(answer["body"].encode()),
            )
            usage[tool].append(each)
    return {tool: _median(values) for tool, values in usage.items()}


def _authorizer_ms(state: dict[str, Any]) -> float:
    """The authorizer's warm check of a user token (the REST API's REQUEST event), in ms."""
    from local.emulator.events import rest_authorizer_event
    from local.emulator.runtime import LambdaContext

    authorizer = load_function(state, "AuthorizerFunction")
    authorizer.restore_environment()
    spec, handler = authorizer.spec, authorizer.handler
    token = user_tokens(state, ["bench-cost-authorizer"])["bench-cost-authorizer"]
    event = rest_authorizer_event(
        "POST", "/chatkit", "", {"Authorization": f"Bearer {token}"}, resource="/chatkit", stage="dev"
    )
    took = []
    for index in range(WARM_UP + 200):
        started = time.perf_counter()
        handler(event, LambdaContext(spec, state["region"]))
        if index >= WARM_UP:
            took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


@contextmanager
def _printed() -> Iterator[io.StringIO]:
    """What the function prints meanwhile (its log and metric lines: CloudWatch Logs' input)."""
    printed = io.StringIO()
    real = sys.stdout
    sys.stdout = printed
    try:
        yield printed
    finally:
        sys.stdout = real


def _platform_bytes(billed_ms: float, memory_mb: int) -> int:
    """Lambda's own lines for one invocation, in its documented text format (with X-Ray's line)."""
    request_id = str(uuid.uuid4())
    lines = [
        f"START RequestId: {request_id} Version: $LATEST",
        f"END RequestId: {request_id}",
        (
            f"REPORT RequestId: {request_id}\tDuration: {billed_ms - 0.5:.2f} ms\tBilled Duration: {billed_ms:.0f} ms\t"
            f"Memory Size: {memory_mb} MB\tMax Memory Used: {memory_mb // 3} MB\t"
        ),
        f"XRAY TraceId: 1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}\tSegmentId: {uuid.uuid4().hex[:16]}\tSampled: true",
    ]
    return sum(len(line) + 1 for line in lines)


def _access_log_bytes(api: str) -> int:
    """One line of the API's access log, in the template's format with values of their real length."""
    resource = _template().body["Resources"]["HttpApi" if api == "http" else "ChatKitApi"]["Properties"]
    form = (resource.get("AccessLogSettings") or resource.get("AccessLogSetting"))["Format"]
    values = {
        "$context.requestId": str(uuid.uuid4()),
        "$context.identity.sourceIp": "203.0.113.200",
        "$context.requestTime": "06/Dec/2026:20:00:00 +0000",
        "$context.httpMethod": "POST",
        "$context.routeKey": "POST /mcp",
        "$context.resourcePath": "/chatkit",
        "$context.status": "200",
        "$context.responseLength": "4096",
        "$context.responseLatency": "1234",
        "$context.integrationErrorMessage": "-",
        "$context.authorizer.error": "-",
        "$context.authorizer.user_id": "usr_" + uuid.uuid4().hex[:20],
    }
    for name in sorted(values, key=len, reverse=True):
        form = form.replace(name, values[name])
    return len(form.encode()) + 1


@functools.cache
def _template() -> Any:
    from local.template import Template

    return Template.load()


def _memory(logical_id: str) -> int:
    return int(_template().functions()[logical_id].memory_mb)


@functools.cache
def _index_keys() -> dict[str, str]:
    """Each table with a secondary index, by the index's sort key: what the unit rules count an
    index entry by, for one index a table projecting every attribute."""
    keys = {}
    for logical_id, table in _template().resources_of_type("AWS::DynamoDB::Table").items():
        properties = table.get("Properties", {})
        for index in properties.get("LocalSecondaryIndexes", []) + properties.get(
            "GlobalSecondaryIndexes", []
        ):
            if logical_id in keys or index["Projection"]["ProjectionType"] != "ALL":
                raise ValueError(f"{logical_id}: no unit rule for its indexes (one, projecting ALL)")
            [keys[logical_id]] = [k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "RANGE"]
    return keys


def _median(values: list[Usage]) -> Usage:
    middle = sorted(values, key=lambda u: u.lambda_ms)[len(values) // 2]
    return Usage(
        lambda_ms=statistics.median(u.lambda_ms for u in values),
        memory_mb=middle.memory_mb,
        read_units=statistics.median(u.read_units for u in values),
        write_units=statistics.median(u.write_units for u in values),
        logged_bytes=round(statistics.median(u.logged_bytes for u in values)),
        streamed_bytes=round(statistics.median(u.streamed_bytes for u in values)),
        lines=middle.lines,
        own_ms=statistics.median(u.own_ms for u in values),
        metric_series=set().union(*(u.metric_series for u in values)),
    )


def _metric_series(printed: str) -> set[str]:
    """The metric series in EMF lines: each metric by its name and dimension values."""
    series = set()
    for line in printed.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            [directive] = document["_aws"]["CloudWatchMetrics"]
            dimensions = ",".join(f"{name}={document[name]}" for name in directive["Dimensions"][0])
            series |= {f"{metric['Name']}[{dimensions}]" for metric in directive["Metrics"]}
    return series


# ---- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    what: str
    per_thousand: float  # USD per 1,000 requests
    how: str


def chat_lines(turn: Usage, authorizer_ms: float) -> list[Line]:
    p = PRICES
    authorizer_mb = _memory("AuthorizerFunction")
    authorizer_billed = billed_ms(authorizer_ms)
    logged = (
        turn.logged_bytes
        + _access_log_bytes("rest")
        + AUTHORIZER_CALLS_PER_TURN * _platform_bytes(authorizer_billed, authorizer_mb)
    )
    return [
        Line(
            "API Gateway REST API (streamed)",
            1000 * p["rest_api_request"],
            "1 request a turn (a stream under 10 MB counts once)",
        ),
        Line(
            "Lambda ChatKitFunction: requests",
            1000 * p["lambda_request"],
            "1 invocation a turn",
        ),
        Line(
            "Lambda ChatKitFunction: duration",
            turn.lambda_ms * gb_second_usd(turn.memory_mb),
            f"{turn.lambda_ms:.0f} ms billed x {turn.memory_mb} MB (own work + round trips x {DYNAMODB_ROUND_TRIP_MS:.0f} ms)",
        ),
        Line(
            "Lambda authorizer (cached 60 s)",
            1000 * AUTHORIZER_CALLS_PER_TURN * lambda_call_usd(authorizer_mb, authorizer_ms),
            f"{AUTHORIZER_CALLS_PER_TURN} calls a turn x {authorizer_billed} ms billed ({authorizer_ms:.2f} ms warm)",
        ),
        *_dynamodb_lines(turn),
        *_around(
            "turn",
            logged,
            "the function's lines, Lambda's, the access log's, the authorizer's",
            "the OpenAI key",
            turn.streamed_bytes,
        ),
        Line("S3", 0.0, "none for a text turn (an attached file: docs/cost.md)"),
    ]


def tool_lines(calls: dict[str, Usage]) -> list[Line]:
    p = PRICES
    mix = Usage(
        lambda_ms=statistics.mean(u.lambda_ms for u in calls.values()),
        memory_mb=next(iter(calls.values())).memory_mb,
        read_units=statistics.mean(u.read_units for u in calls.values()),
        write_units=statistics.mean(u.write_units for u in calls.values()),
        logged_bytes=round(statistics.mean(u.logged_bytes for u in calls.values())),
        streamed_bytes=round(statistics.mean(u.streamed_bytes for u in calls.values())),
    )
    logged = mix.logged_bytes + _access_log_bytes("http")
    per_tool = ", ".join(f"{tool} {u.read_units:g} RRU + {u.write_units:g} WRU" for tool, u in calls.items())
    return [
        Line(
            "API Gateway HTTP API",
            1000 * p["http_api_request"],
            "1 request a call (no authorizer: /mcp checks its token)",
        ),
        Line("Lambda McpFunction: requests", 1000 * p["lambda_request"], "1 invocation a call"),
        Line(
            "Lambda McpFunction: duration",
            mix.lambda_ms * gb_second_usd(mix.memory_mb),
            f"{mix.lambda_ms:.1f} ms billed x {mix.memory_mb} MB (the five tools' mean)",
        ),
        Line(
            "DynamoDB reads",
            1000 * mix.read_units * p["dynamodb_read_unit"],
            f"{mix.read_units:g} RRU a call (mean of: {per_tool})",
        ),
        Line(
            "DynamoDB writes",
            1000 * mix.write_units * p["dynamodb_write_unit"],
            f"{mix.write_units:g} WRU a call",
        ),
        *_around(
            "call",
            logged,
            "the function's lines, Lambda's, the access log's",
            "the token's key",
            mix.streamed_bytes,
        ),
    ]


def _around(per: str, logged: float, who: str, secret: str, streamed: int) -> list[Line]:
    """The lines every request pays around its function: logs, traces, a secret's read, traffic out."""
    p = PRICES
    return [
        Line(
            "CloudWatch Logs ingestion",
            1000 * logged / GB * p["logs_ingested_gb"],
            f"{logged:.0f} B a {per}: {who}",
        ),
        Line("X-Ray traces", 1000 * p["xray_trace"], f"at most 1 trace a {per} (Tracing: Active)"),
        Line(
            "Secrets Manager reads",
            1000 * p["secret_call"],
            f"at most 1 a {per}: {secret}, read again once a minute in a sandbox",
        ),
        Line("Data transfer out", 1000 * streamed / GB * p["transfer_out_gb"], f"{streamed} B a {per}"),
    ]


def _dynamodb_lines(usage: Usage) -> list[Line]:
    p = PRICES
    return [
        Line(
            "DynamoDB reads",
            1000 * usage.read_units * p["dynamodb_read_unit"],
            f"{usage.read_units:g} RRU a turn: " + "; ".join(line for line in usage.lines if "RRU" in line),
        ),
        Line(
            "DynamoDB writes",
            1000 * usage.write_units * p["dynamodb_write_unit"],
            f"{usage.write_units:g} WRU a turn: " + "; ".join(line for line in usage.lines if "WRU" in line),
        ),
    ]


def fixed_monthly(metric_series: int) -> list[Line]:
    """What the stack costs a month whatever its traffic (``per_thousand`` holds the monthly USD)."""
    template = _template()
    p = PRICES
    snapstart = [spec for spec in template.functions().values() if spec.snap_start]
    cache = (
        sum(spec.memory_mb / 1024 for spec in snapstart) * SECONDS_A_MONTH * p["snapstart_cache_gb_second"]
    )
    secrets = len(template.resources_of_type("AWS::SecretsManager::Secret"))
    alarms = len(template.resources_of_type("AWS::CloudWatch::Alarm"))
    return [
        Line(
            "SnapStart snapshot cache",
            cache,
            f"{', '.join(s.logical_id for s in snapstart)}: one active version each, all month",
        ),
        Line("Secrets Manager secrets", secrets * p["secret_month"], f"{secrets} secrets"),
        Line("CloudWatch alarms", alarms * p["alarm_month"], f"{alarms} alarms"),
        Line(
            "CloudWatch custom metrics (EMF)",
            metric_series * p["custom_metric_month"],
            f"{metric_series} metric series a turn and the five tools print, each every hour (prorated by the hour)",
        ),
    ]


def _rows(turn: Usage, calls: dict[str, Usage], authorizer_ms: float) -> list[Row]:
    chat, mcp = chat_lines(turn, authorizer_ms), tool_lines(calls)
    series = turn.metric_series | set().union(*(u.metric_series for u in calls.values()))
    fixed = fixed_monthly(len(series))
    rows = [
        Row(GROUP, f"turn: {line.what}", line.per_thousand, 0, unit="$/1k turns", note=line.how)
        for line in chat
    ]
    chat_total = sum(line.per_thousand for line in chat)
    model_second = 1000 * gb_second_usd(turn.memory_mb)
    rows.append(
        Row(
            GROUP,
            "per 1,000 chat turns",
            chat_total,
            0,
            unit="$/1k turns",
            note=f"+ ${model_second:.4f} for each second a turn waits for the model (ChatKitFunction runs meanwhile)",
        )
    )
    rows += [
        Row(GROUP, f"tool call: {line.what}", line.per_thousand, 0, unit="$/1k calls", note=line.how)
        for line in mcp
    ]
    rows.append(
        Row(GROUP, "per 1,000 MCP tool calls", sum(line.per_thousand for line in mcp), 0, unit="$/1k calls")
    )
    rows += [
        Row(GROUP, f"a month: {line.what}", line.per_thousand, 0, unit="$/month", note=line.how)
        for line in fixed
    ]
    rows += _months(chat, fixed, turn, model_second)
    return rows


def _months(chat: list[Line], fixed: list[Line], turn: Usage, model_second: float) -> list[Row]:
    """A month at each volume: the serverless stack (its fixed costs, each turn's, X-Ray's default
    sampling) beside the monolith on one always-on task, with the same data and logs."""
    p = PRICES
    fixed_total = sum(line.per_thousand for line in fixed)
    per_turn = sum(line.per_thousand for line in chat if line.what not in MONTHLY_RULES) / 1000
    shared = sum(line.per_thousand for line in chat if line.what.startswith(SHARED)) / 1000
    # The monolith keeps the secrets, alarms and metrics, not the snapshots.
    shared_fixed = sum(line.per_thousand for line in fixed if not line.what.startswith("SnapStart"))
    task = HOURS_A_MONTH * (
        MONOLITH_VCPU * p["fargate_arm_vcpu_hour"]
        + MONOLITH_GB * p["fargate_arm_gb_hour"]
        + p["public_ipv4_hour"]
    )
    rows = []
    for volume in VOLUMES:
        # Lambda's default sampling: the first request each second, then 5% of the rest.
        traces = min(volume, SECONDS_A_MONTH) + 0.05 * max(0, volume - SECONDS_A_MONTH)
        # The OpenAI key: read at most once a minute by a warm sandbox (one here; each more adds as many).
        reads = min(volume, SECONDS_A_MONTH / 60)
        ours = fixed_total + volume * per_turn + traces * p["xray_trace"] + reads * p["secret_call"]
        theirs = task + shared_fixed + volume * shared
        busy = volume * turn.own_ms / 1000 / SECONDS_A_MONTH / MONOLITH_VCPU
        rows += [
            Row(
                GROUP,
                f"{volume:,} turns a month: serverless",
                ours,
                0,
                unit="$/month",
                note=(
                    f"fixed ${fixed_total:.2f} + turns + {traces:,.0f} traces + {reads:,.0f} key reads; "
                    f"+ ${volume / 1000 * model_second:,.2f} for each second a turn waits for the model"
                ),
            ),
            Row(
                GROUP,
                f"{volume:,} turns a month: monolith",
                theirs,
                0,
                unit="$/month",
                note=(
                    f"one Fargate task ({MONOLITH_VCPU} vCPU, {MONOLITH_GB} GB, Linux/ARM) + a public IPv4: "
                    f"${task:.2f}, the same data, logs and fixed costs but the snapshots; the model's time costs it "
                    f"nothing; its own work busies {100 * busy:.1f}% of the task on average ({turn.own_ms:.0f} ms a turn)"
                ),
            ),
        ]
    return rows


CASES: list = []
LOAD_GROUPS = [cost_group()]
