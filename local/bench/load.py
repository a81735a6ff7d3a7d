"""Load on a running local stack: MCP tool calls at N concurrent connections, and one request's
latency on a kept-alive connection against a fresh one.

Used by `make bench` (the load rows, local/bench/cases_load.py), by the load test
(tests/integration/test_load.py), and by hand against `make dev`:
``python -m local.bench.load [--calls 1000] [--connections 64 1]``.

The MCP workload is what a busy deployment sees: several users, each with a few tasks that
many calls add to, rename and complete at once, so calls on the same task race. Every call is
recorded with what it wrote; ``check_final_state`` then reads the tasks back and names any task
whose state no accepted call wrote, and any added task that is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import random
import ssl
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

PROTOCOL = "2026-07-28"
TASKS_PER_USER = 3
# Of the timed calls: most rename a shared task, some complete one, some add a new one.
MIX = (("update_task", 0.6), ("complete_task", 0.2), ("add_task", 0.2))


@dataclass(frozen=True)
class Call:
    index: int
    user: str
    tool: str
    arguments: dict[str, Any]


@dataclass
class Outcome:
    call: Call
    seconds: float
    status: int | None = None  # HTTP status; None when the connection failed
    transport_error: str = ""  # the exception's type and message when it did
    result: dict[str, Any] | None = None  # structuredContent of a successful tool call
    tool_error: str = ""  # isError text, or the JSON-RPC error

    @property
    def accepted(self) -> bool:
        return self.result is not None


@dataclass
class LoadResult:
    connections: int
    outcomes: list[Outcome]
    wall_seconds: float

    @property
    def calls_per_second(self) -> float:
        return len(self.outcomes) / self.wall_seconds

    def percentile_ms(self, q: float) -> float:
        latencies = sorted(o.seconds for o in self.outcomes)
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    @property
    def connection_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is None]

    @property
    def server_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and o.status >= 500]

    def summary(self) -> str:
        return (
            f"{len(self.outcomes)} calls at {self.connections} connection(s): {self.calls_per_second:.0f} calls/s, "
            f"p50 {self.percentile_ms(0.5):.1f} ms, p99 {self.percentile_ms(0.99):.1f} ms, "
            f"{len(self.connection_errors)} connection errors, {len(self.server_errors)} 5XX"
        )


# Per user, above any load this module sends.
LOAD_CALLS_PER_MINUTE = 1_000_000


def mcp_request(
    tool: str, arguments: dict[str, Any], token: str, request_id: int = 1
) -> tuple[bytes, dict[str, str]]:
    """A 2026-07-28 (stateless) tools/call body and the headers a conforming client sends."""
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {
            "name": tool,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": PROTOCOL,
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "local-load", "version": "1"},
            },
        },
    }
    headers = {
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
        "accept": "application/json, text/event-stream",
        "mcp-protocol-version": PROTOCOL,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }
    return json.dumps(body).encode(), headers


async def call_tool(client: httpx.AsyncClient, url: str, call: Call, token: str) -> Outcome:
    content, headers = mcp_request(call.tool, call.arguments, token, call.index)
    started = time.perf_counter()
    try:
        response = await client.post(f"{url}/mcp", content=content, headers=headers)
    except httpx.TransportError as exc:
        return Outcome(call, time.perf_counter() - started, transport_error=f"{type(exc).__name__}: {exc}")
    outcome = Outcome(call, time.perf_counter() - started, status=response.status_code)
    if response.status_code != 200:
        outcome.tool_error = response.text[:300]
        return outcome
    answer = response.json()
    result = answer.get("result")
    if not isinstance(result, dict):
        outcome.tool_error = json.dumps(answer.get("error"))[:300]
    elif result.get("isError"):
        outcome.tool_error = str(result.get("content"))[:300]
    else:
        outcome.result = result["structuredContent"]
    return outcome


async def run_calls(url: str, tokens: dict[str, str], calls: list[Call], connections: int) -> LoadResult:
    """``calls`` over ``connections`` kept-alive connections, one call in flight on each.

    Each connection is its own client, as each user's agent would be: one httpx client with many
    connections costs the load generator more CPU than the stack (its pool scans every connection
    for every request), so it would measure the client. The clients share one TLS context (the
    stack is plain HTTP; httpx builds one per client otherwise, at 100+ ms each).
    """
    queue: asyncio.Queue[Call] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    outcomes: list[Outcome] = []
    tls = ssl.create_default_context()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # Generous: a call waits for a free sandbox, not for a deadline; a timeout counts as a failure.
    clients = [
        httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0), verify=tls) for _ in range(connections)
    ]

    async def connection(client: httpx.AsyncClient) -> None:
        async with client:
            while not queue.empty():
                call = queue.get_nowait()
                outcomes.append(await call_tool(client, url, call, tokens[call.user]))

    started = time.perf_counter()
    await asyncio.gather(*(connection(client) for client in clients))
    wall = time.perf_counter() - started
    return LoadResult(connections, sorted(outcomes, key=lambda o: o.call.index), wall)


async def seed_tasks(url: str, tokens: dict[str, str]) -> dict[str, list[Outcome]]:
    """``TASKS_PER_USER`` tasks per user for the timed calls to race on; the add_task outcomes."""
    calls = [
        Call(-1 - i, user, "add_task", {"title": f"{user} task {k}", "description": "seeded"})
        for i, (user, k) in enumerate((u, k) for u in tokens for k in range(TASKS_PER_USER))
    ]
    result = await run_calls(url, tokens, calls, min(8, len(calls)))
    failed = [o for o in result.outcomes if not o.accepted]
    if failed:
        raise RuntimeError(f"seeding tasks failed: {failed[0]}")
    seeded: dict[str, list[Outcome]] = {user: [] for user in tokens}
    for outcome in result.outcomes:
        seeded[outcome.call.user].append(outcome)
    return seeded


def plan(seeded: dict[str, list[Outcome]], count: int, seed: int = 11) -> list[Call]:
    """``count`` calls over the users in turn, each on one of the user's seeded tasks (or a new one)."""
    rng = random.Random(seed)
    users = sorted(seeded)
    tools, weights = zip(*MIX)
    calls = []
    for index in range(count):
        user = users[index % len(users)]
        task_id = rng.choice(seeded[user]).result["task_id"]  # type: ignore[index]
        tool = rng.choices(tools, weights)[0]
        label = f"{user} call {index}"
        arguments = {
            "update_task": {"task_id": task_id, "title": label, "description": f"written by {label}"},
            "complete_task": {"task_id": task_id},
            "add_task": {"title": label, "description": f"written by {label}"},
        }[tool]
        calls.append(Call(index, user, tool, arguments))
    return calls


async def list_all(client: httpx.AsyncClient, url: str, token: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    cursor = None
    while True:
        arguments: dict[str, Any] = {"status": "all", "limit": 100, **({"cursor": cursor} if cursor else {})}
        outcome = await call_tool(client, url, Call(0, "", "list_tasks", arguments), token)
        if outcome.result is None:
            raise RuntimeError(f"list_tasks failed: {outcome}")
        tasks += outcome.result["tasks"]
        cursor = outcome.result.get("next_cursor")
        if not cursor:
            return tasks


async def check_final_state(
    url: str, tokens: dict[str, str], seeded: dict[str, list[Outcome]], result: LoadResult
) -> list[str]:
    """What is wrong with the tasks after the run: each seeded task must hold a title and
    description that some accepted call (or the seeding) wrote, be completed exactly when a
    complete_task was accepted, and every accepted add_task must have left its task."""
    problems: list[str] = []
    async with httpx.AsyncClient(timeout=60, verify=ssl.create_default_context()) as client:
        for user, token in tokens.items():
            stored = {task["task_id"]: task for task in await list_all(client, url, token)}
            for seed in seeded[user]:
                task_id = seed.result["task_id"]  # type: ignore[index]
                writes = [
                    o for o in result.outcomes if o.accepted and o.call.arguments.get("task_id") == task_id
                ]
                titles = {seed.call.arguments["title"]} | {
                    o.call.arguments["title"] for o in writes if o.call.tool == "update_task"
                }
                descriptions = {seed.call.arguments["description"]} | {
                    o.call.arguments["description"] for o in writes if o.call.tool == "update_task"
                }
                completed = any(o.call.tool == "complete_task" for o in writes)
                task = stored.get(task_id)
                if task is None:
                    problems.append(f"{user}: seeded task {task_id} is gone")
                    continue
                if task["title"] not in titles or task.get("description") not in descriptions:
                    problems.append(
                        f"{user}: task {task_id} holds {task['title']!r}/{task.get('description')!r}, which no accepted call wrote"
                    )
                if (task["status"] == "completed") != completed:
                    problems.append(
                        f"{user}: task {task_id} is {task['status']} but complete_task was {'' if completed else 'never '}accepted"
                    )
            for added in (
                o for o in result.outcomes if o.accepted and o.call.user == user and o.call.tool == "add_task"
            ):
                task = stored.get(added.result["task_id"])  # type: ignore[index]
                if task is None or task["title"] != added.call.arguments["title"]:
                    problems.append(
                        f"{user}: task {added.result['task_id']} added by call {added.call.index} is missing or changed"
                    )  # type: ignore[index]
    return problems


async def mcp_load(
    url: str, tokens: dict[str, str], calls: int, connections: int
) -> tuple[LoadResult, list[str]]:
    """Seed, run ``calls`` tool calls at ``connections`` connections, check; the result and its problems."""
    seeded = await seed_tasks(url, tokens)
    result = await run_calls(url, tokens, plan(seeded, calls), connections)
    return result, await check_final_state(url, tokens, seeded, result)


@dataclass
class Latency:
    """Per-request latency of one request, on one kept-alive connection and on a new connection each."""

    name: str
    kept_alive_ms: list[float] = field(default_factory=list)
    fresh_ms: list[float] = field(default_factory=list)

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")


def request_latency(
    url: str,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    count: int = 50,
    check: Callable[[int, bytes], None] | None = None,
    name: str = "",
) -> Latency:
    """``count`` requests on one kept-alive connection and ``count`` on fresh ones, interleaved so
    both see the same machine. Plain http.client: it sends headers and body in one write, so the
    client adds no stall of its own, and costs the same on both paths."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latency = Latency(name or f"{method} {path}")
    kept = http.client.HTTPConnection(host, port, timeout=30)

    def once(connection: http.client.HTTPConnection) -> float:
        started = time.perf_counter()
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        content = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if check is not None:
            check(response.status, content)
        return elapsed

    try:
        once(kept)  # open the kept connection and warm the function
        for _ in range(count):
            latency.kept_alive_ms.append(once(kept))
            fresh = http.client.HTTPConnection(host, port, timeout=30)
            try:
                latency.fresh_ms.append(once(fresh))
            finally:
                fresh.close()
    finally:
        kept.close()
    return latency


def _expect_ok(status: int, content: bytes) -> None:
    if status != 200:
        raise RuntimeError(f"expected 200, got {status}: {content[:200]!r}")


def keepalive_latencies(url: str, token: str, count: int = 50) -> list[Latency]:
    """GET /health and a warm MCP list_tasks, each kept-alive against fresh."""
    body, headers = mcp_request("list_tasks", {"status": "all", "limit": 20}, token)
    return [
        request_latency(url, "GET", "/health", count=count, check=_expect_ok),
        request_latency(
            url,
            "POST",
            "/mcp",
            body=body,
            headers=headers,
            count=count,
            check=_expect_ok,
            name="POST /mcp list_tasks",
        ),
    ]


def user_tokens(state: dict[str, Any], users: list[str]) -> dict[str, str]:
    """User tokens the stack described by ``state`` (.local/stack.json) accepts, as `make token` mints them."""
    from local.emulator.stack import LocalAws
    from local.emulator.token import mint_user_token

    aws = LocalAws(state["aws_endpoint_url"], state["region"])
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=state["resources"]["UserTokenSecret"], VersionStage="AWSCURRENT"
    )["SecretString"]
    parameters = state.get("parameters") or {}
    issuer, audience = parameters.get("JwtIssuer", ""), parameters.get("JwtAudience", "")
    return {user: mint_user_token(secret, user, issuer=issuer, audience=audience) for user in users}


@dataclass(frozen=True)
class Row:
    """One `make bench` row measured over HTTP; rows of a group are compared with its baseline."""

    group: str
    name: str
    p50_ms: float
    p99_ms: float
    per_second: float | None = None  # throughput rows
    errors: int = 0
    baseline: bool = False
    note: str = ""
    # A row that counts something else than milliseconds (its value in p50_ms), shown with its
    # unit and compared with nothing: round trips, dollars.
    unit: str = "ms"


@dataclass(frozen=True)
class LoadGroup:
    """Rows measured together against one running stack: ``measure(url, tokens_for)``."""

    group: str
    measure: Callable[[str, Callable[[list[str]], dict[str, str]]], list[Row]]


def latency_group(count: int = 100) -> LoadGroup:
    """Per request: fresh connections (the baseline) against one kept-alive connection, interleaved."""
    group = "gateway: kept-alive vs fresh connection"

    def measure(url: str, tokens_for: Callable[[list[str]], dict[str, str]]) -> list[Row]:
        token = tokens_for(["bench-latency"])["bench-latency"]
        rows = []
        for latency in keepalive_latencies(url, token, count):
            for name, values in (
                ("fresh connection", latency.fresh_ms),
                ("kept-alive connection", latency.kept_alive_ms),
            ):
                ordered = sorted(values)
                rows.append(
                    Row(
                        f"{group}: {latency.name}",
                        f"{latency.name}, {name}",
                        Latency.median(values),
                        ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
                        baseline=name == "fresh connection",
                    )
                )
        return rows

    return LoadGroup(group, measure)


def throughput_group(calls: int = 1000, users: int = 8, connections: tuple[int, ...] = (1, 64)) -> LoadGroup:
    """The same racing workload over 1 and over 64 connections, after a warm-up burst (not timed)."""
    group = f"MCP tools/call throughput: {calls} racing calls from {users} users, warm sandboxes"

    def measure(url: str, tokens_for: Callable[[list[str]], dict[str, str]]) -> list[Row]:
        # Steady state, as a busy function runs in Lambda: the sandboxes the widest row needs are
        # started (and the authorizer's verdicts cached) by a burst before anything is timed.
        asyncio.run(
            mcp_load(url, tokens_for([f"bench-warm-{n}" for n in range(users)]), calls // 4, max(connections))
        )
        rows = []
        for count in connections:
            tokens = tokens_for([f"bench-{count}-{n}" for n in range(users)])
            result, problems = asyncio.run(mcp_load(url, tokens, calls, count))
            refused = sum(1 for o in result.outcomes if not o.accepted)
            rows.append(
                Row(
                    group,
                    f"{count} connection{'s' if count > 1 else ''}",
                    result.percentile_ms(0.5),
                    result.percentile_ms(0.99),
                    per_second=result.calls_per_second,
                    errors=refused + len(problems),
                    baseline=count == connections[0],
                    note=""
                    if not (refused or problems)
                    else f"{refused} calls not accepted, {len(problems)} final-state problems",
                )
            )
        return rows

    return LoadGroup(group, measure)


def load_table(rows: list[Row]) -> str:
    """The load rows, one block per group, with each row's ratio to the group's baseline:
    throughput (× = calls/s over the baseline's) or latency (× = p50 over the baseline's)."""
    header = f"{'case':44} {'p50 ms':>9} {'p99 ms':>9} {'calls/s':>9} {'errors':>7} {'×':>7}"
    lines: list[str] = []
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group, []).append(row)
    for group, members in groups.items():
        baseline = next((r for r in members if r.baseline), members[0])
        heading = header if any(r.unit == "ms" for r in members) else f"{'case':44} {'value':>19}  unit"
        lines += ["", f"## {group}", heading, "-" * len(header)]
        for row in members:
            per_second = f"{row.per_second:9.1f}" if row.per_second is not None else f"{'-':>9}"
            if row.unit != "ms":
                value = f"{row.p50_ms:g}"
                if row.unit.startswith("$"):
                    value = f"{row.p50_ms:,.2f}" if row.p50_ms >= 1 else f"{row.p50_ms:.5f}"
                lines.append(f"{row.name[:44]:44} {value:>19}  {row.unit}")
            else:
                if row.per_second is not None and baseline.per_second:
                    ratio = row.per_second / baseline.per_second
                else:
                    ratio = row.p50_ms / baseline.p50_ms if baseline.p50_ms else float("nan")
                lines.append(
                    f"{row.name[:44]:44} {row.p50_ms:9.2f} {row.p99_ms:9.2f} {per_second} {row.errors:7d} {ratio:7.2f}"
                )
            if row.note:
                lines.append(f"    {row.note}")
    lines += [
        "",
        "× = calls/s over the group's first row (throughput), or p50 over it (latency); measured over",
        "HTTP against one `make dev` stack started for the run (loopback, this machine's cores).",
    ]
    return "\n".join(lines)


@contextmanager
def dev_stack(timeout: float = 120.0) -> Iterator[dict[str, Any]]:
    """`make dev` in a process of its own, on a free port, for the duration of the block; yields
    its state (.local/stack.json's content). The load is generated here, so the stack and the
    client do not share an interpreter."""
    from local.emulator.stack import dev_process

    # The load is 8 users' racing tool calls, far over a real user's per-minute limit: lift it.
    with dev_process({"MCP_CALLS_PER_MINUTE": str(LOAD_CALLS_PER_MINUTE)}, timeout=timeout) as dev:
        yield dev.state


def measure_groups(groups: list[LoadGroup]) -> list[Row]:
    """Every group against one fresh stack."""
    with dev_stack() as state:
        return [
            row
            for group in groups
            for row in group.measure(state["url"], lambda users: user_tokens(state, users))
        ]


def main(argv: list[str] | None = None) -> int:
    from local.emulator.stack import running_stack_state

    parser = argparse.ArgumentParser(prog="python -m local.bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--connections", type=int, nargs="+", default=[64, 1])
    parser.add_argument("--latency-count", type=int, default=50)
    args = parser.parse_args(argv)
    state = running_stack_state()
    if state is None:
        print("no local stack is running; start one with `make dev` first", file=sys.stderr)
        return 1
    url = state["url"]
    run = int(time.time())
    for connections in args.connections:
        tokens = user_tokens(state, [f"load-{run}-{connections}-{n}" for n in range(args.users)])
        result, problems = asyncio.run(mcp_load(url, tokens, args.calls, connections))
        print(result.summary())
        for outcome in result.connection_errors[:5] + result.server_errors[:5]:
            print(
                f"  call {outcome.call.index}: {outcome.status} {outcome.transport_error or outcome.tool_error}"
            )
        for problem in problems[:10]:
            print(f"  final state: {problem}")
    token = next(iter(user_tokens(state, [f"load-{run}-latency"]).values()))
    for latency in keepalive_latencies(url, token, args.latency_count):
        print(
            f"{latency.name:12} kept-alive p50 {latency.median(latency.kept_alive_ms):7.2f} ms   "
            f"fresh p50 {latency.median(latency.fresh_ms):7.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
