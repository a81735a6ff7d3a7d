"""POST /chatkit: ChatKitFunction's cold start (chatkit, agents and openai imported), and the
other functions beside it to show they stay free of that import (see the heavy imports column).

ChatKitFunction runs an ASGI app behind the Lambda Web Adapter, so its row calls the app the
way the adapter does (local/bench/peers/chatkit_asgi.py) on a threads.list request: no model
call, one DynamoDB Query. The other rows are the template's functions on their own events.
"""

from local.bench.cases_mcp import store_user_secret, tokened
from local.bench.runner import Case
from local.template import STACK_NAME

GROUP = "cold start: ChatKitFunction vs the functions without chatkit"
CHATKIT_ENV = {
    "CHATKIT_TABLE": f"{STACK_NAME}-ChatKitTable",
    "TASKS_TABLE": f"{STACK_NAME}-TasksTable",
    "CHATKIT_MODEL": "gpt-4.1-mini",
}

CASES = [
    Case(
        GROUP,
        "ChatKitFunction threads.list (ours)",
        "local/bench/peers/chatkit_asgi.py:handler",
        "events/chatkit/threads_list.json",
        env=CHATKIT_ENV,
        baseline=True,
        iterations=100,
        sys_path=("functions/chatkit", "layers/shared/python"),
        note="the ASGI app as the Lambda Web Adapter calls it; import = chatkit + agents + openai + the app",
    ),
    Case(
        GROUP, "McpFunction tools/list", "McpFunction", tokened("tools_list.json"), prepare=store_user_secret
    ),
    Case(GROUP, "HealthFunction", "HealthFunction", "events/health/ok.json"),
]
