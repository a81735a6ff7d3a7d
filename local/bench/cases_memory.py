"""Lambda memory by measurement: each function on the request path at three memory sizes, each
run with the CPU share Lambda gives that size (local/bench/cpu_share.py), as AWS Lambda Power
Tuning runs a function at several sizes and compares duration x memory.

- McpFunction and AuthorizerFunction: the usual probe (a fresh process: import and first call,
  then warm calls) on their most common request, a tools/call list_tasks with a user token and a
  Better Auth (EdDSA) token; the table adds the billed GB-ms and the cost per million calls.
- ChatKitFunction: warm turns of the turn group's workload in a process of its own
  (local/bench/turn_probe.py), the stand-in model and moto outside the share; a turn's cost is
  that work, plus the round trips it waits for in AWS, plus the model's time at the same memory.

The template's MemorySize for each is the baseline row; docs/cost.md reads the choice from here.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from local.bench.cases_auth import EDDSA_EVENT, JWKS_ENV
from local.bench.cases_mcp import UNLIMITED, store_user_secret, tokened
from local.bench.cases_turn import ROUND_TRIP_TARGET, _environment, _store_openai_key, modelled_ms
from local.bench.cpu_share import share_of
from local.bench.load import LOAD_CALLS_PER_MINUTE, LoadGroup, Row, dev_stack
from local.bench.prices import gb_second_usd, lambda_call_usd
from local.bench.runner import Case, run_probe
from local.template import Template

SIZES = {
    "McpFunction": (256, 512, 1024),
    "AuthorizerFunction": (256, 512, 1024),
    "ChatKitFunction": (512, 1024, 1769),
}
TURNS = 20
ROUND_TRIPS = ROUND_TRIP_TARGET + 1  # a turn with one tool call (the turn group's row)
TEMPLATE = {logical_id: spec.memory_mb for logical_id, spec in Template.load().functions().items()}


def _label(logical_id: str, size: int) -> str:
    return f"{size} MB" + (" (the template's)" if size == TEMPLATE[logical_id] else "")


CASES = [
    Case(
        "memory: McpFunction, tools/call list_tasks, user token",
        _label("McpFunction", size),
        "McpFunction",
        tokened("list_tasks.json"),
        env=UNLIMITED,
        baseline=size == TEMPLATE["McpFunction"],
        prepare=store_user_secret,
        memory_mb=size,
        iterations=100,
    )
    for size in SIZES["McpFunction"]
] + [
    Case(
        "memory: AuthorizerFunction, Better Auth (EdDSA) token",
        _label("AuthorizerFunction", size),
        "AuthorizerFunction",
        EDDSA_EVENT,
        env=JWKS_ENV,
        baseline=size == TEMPLATE["AuthorizerFunction"],
        memory_mb=size,
        iterations=200,
    )
    for size in SIZES["AuthorizerFunction"]
]

TURN_GROUP = "memory: ChatKitFunction, a warm turn (list_tasks + answer)"


def turn_group() -> LoadGroup:
    def measure(url: str, tokens_for: Callable[[list[str]], dict[str, str]]) -> list[Row]:
        from local.standins.openai import call, fake_responses, text

        def answer(request: dict) -> object:
            # Every turn: list the tasks, then answer once the tool's output is in.
            last = (request.get("input") or [{}])[-1]
            return (
                text("You have two tasks to do.", pieces=1, pause=0)
                if last.get("type") == "function_call_output"
                else call("list_tasks")
            )

        rows = []
        with (
            fake_responses() as model,
            _environment(OPENAI_BASE_URL=model.url, CHATKIT_MESSAGES_PER_MINUTE=str(LOAD_CALLS_PER_MINUTE)),
            dev_stack() as state,
        ):
            model.fallback = answer
            _store_openai_key(state, "sk-bench-memory")
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
                json.dump({"state": state, "turns": TURNS}, file)
            try:
                for size in SIZES["ChatKitFunction"]:
                    report = json.loads(
                        run_probe(
                            "local.bench.turn_probe", file.name, size, f"turns at {size} MB", timeout=600
                        )
                    )
                    busy = statistics.median(report["busy_ms"])
                    billed = modelled_ms(busy, ROUND_TRIPS)
                    per_thousand = 1000 * lambda_call_usd(size, billed)
                    per_second = 1000 * gb_second_usd(size)
                    rows.append(
                        Row(
                            TURN_GROUP,
                            _label("ChatKitFunction", size),
                            busy,
                            max(report["busy_ms"]),
                            baseline=size == TEMPLATE["ChatKitFunction"],
                            note=(
                                f"work a turn at {share_of(size):.2f} vCPU; billed {billed:.0f} ms with "
                                f"{ROUND_TRIPS} round trips: ${per_thousand:.4f} per 1,000 turns "
                                f"+ ${per_second:.4f} per second of model time; peak RSS {report['rss_mb']:.0f} MB"
                            ),
                        )
                    )
            finally:
                Path(file.name).unlink()
        return rows

    return LoadGroup(TURN_GROUP, measure)


LOAD_GROUPS = [turn_group()]
