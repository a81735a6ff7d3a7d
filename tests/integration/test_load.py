"""The local stack under load: 1,000 MCP tool calls from 8 users over 64 concurrent kept-alive
connections, racing to rename and complete the same tasks. Nothing may be dropped or fail, and
every task must end in a state that one of the accepted calls wrote.

The workload is the one `make bench` times (local/bench/load.py); here only outcomes count.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from local.bench.load import LOAD_CALLS_PER_MINUTE, mcp_load, user_tokens
from tests.integration.stack import RunningStack, start_stack

pytestmark = pytest.mark.integration

CALLS, USERS, CONNECTIONS = 1000, 8, 64


@pytest.fixture(scope="module")
def local_stack() -> Iterator[RunningStack]:
    """A stack whose per-user tool-call limit is lifted: 125 calls a user in seconds is the load, not abuse."""
    with start_stack({"MCP_CALLS_PER_MINUTE": str(LOAD_CALLS_PER_MINUTE)}) as stack:
        yield stack


def test_a_thousand_racing_tool_calls_at_64_connections_all_land(local_stack: RunningStack) -> None:
    state = json.loads((local_stack.state_dir / "stack.json").read_text())
    tokens = user_tokens(state, [f"racer-{n}" for n in range(USERS)])

    result, problems = asyncio.run(mcp_load(local_stack.url, tokens, CALLS, CONNECTIONS))

    assert len(result.outcomes) == CALLS
    assert result.connection_errors == [], result.summary()
    assert result.server_errors == [], result.summary()
    refused = [o for o in result.outcomes if not o.accepted]
    assert refused == [], f"{len(refused)} calls refused, first: {refused[:1]}"
    assert problems == []
    # The race was real: several calls renamed each task, and each task ended with one of them.
    updates = [o for o in result.outcomes if o.call.tool == "update_task"]
    assert len({o.call.arguments["task_id"] for o in updates}) == USERS * 3 < len(updates)
