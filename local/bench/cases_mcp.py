"""POST /mcp: McpFunction next to the two usual ways of serving MCP from Lambda, on the same
events and the same task service (so the rows differ only in the MCP layer).

- awslabs `mcp-lambda-handler`: hand-written and fast, but protocol 2024-11-05 only.
- the official SDK server (MCPServer, stateless, JSON responses) under Mangum: complete, but
  Mangum runs the app's lifespan, and with it the SDK's session manager, on every call.
"""

from local.bench.runner import Case
from local.template import STACK_NAME

PEER_PATHS = ("layers/shared/python",)
TASKS = {"TASKS_TABLE": f"{STACK_NAME}-TasksTable"}

GROUPS = (
    ("mcp tools/list", "events/mcp/tools_list.json"),
    ("mcp tools/call list_tasks", "events/mcp/list_tasks.json"),
    # The same tool call failing before any DynamoDB request (an id no task can have): the
    # MCP layer's own cost, without the database round trip every row pays alike.
    ("mcp tools/call, no I/O (unknown task id)", "events/mcp/error_task_not_found.json"),
)

CASES = [
    case
    for group, event in GROUPS
    for case in (
        Case(group, "McpFunction (ours)", "McpFunction", event, baseline=True),
        Case(
            group,
            "awslabs mcp-lambda-handler 0.1.15",
            "local/bench/peers_mcp/awslabs_tasks.py:handler",
            event,
            env=TASKS,
            sys_path=PEER_PATHS,
            note="protocol 2024-11-05 only; tool errors become HTTP 500",
        ),
        Case(
            group,
            "mcp 2.3.0 MCPServer + Mangum",
            "local/bench/peers_mcp/sdk_mangum_tasks.py:handler",
            event,
            env=TASKS,
            sys_path=PEER_PATHS,
            iterations=50,
            note="stateless JSON; lifespan per call",
        ),
    )
]

# What every row of the list_tasks group pays for the database: the gap above it is the MCP layer.
CASES.append(
    Case(
        "mcp tools/call list_tasks",
        "task service alone, no MCP (DynamoDB floor)",
        "local/bench/peers_mcp/tasks_floor.py:handler",
        "events/mcp/list_tasks.json",
        env=TASKS,
        sys_path=PEER_PATHS,
        note="one Query against moto's DynamoDB; subtract it from a row to get that row's MCP overhead",
    )
)
