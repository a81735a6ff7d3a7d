"""POST /mcp: McpFunction next to the two usual ways of serving MCP from Lambda, on the same
events and the same task service (so the rows differ only in the MCP layer).

- awslabs `mcp-lambda-handler`: hand-written and fast, but protocol 2024-11-05 only.
- the official SDK server (MCPServer, stateless, JSON responses) under Mangum: complete, but
  Mangum runs the app's lifespan, and with it the SDK's session manager, on every call.

McpFunction checks the bearer token itself (/mcp has no gateway authorizer), so its rows include
verifying a user token (HS256, the secret cached after the first call). The peers take the user
from an authorizer's context, as they would sit behind one: the authorizer's invocation they
would also pay per uncached call is not in their rows (see the "auth:" groups for its cost).
"""

import json
import secrets

from local.bench.cases_auth import SERVING
from local.bench.runner import Bench, Case
from local.emulator.token import mint_user_token
from local.standins.oauth_server import serve_authorization_server
from local.template import ROOT, STACK_NAME

PEER_PATHS = ("layers/shared/python",)
# The warm loop makes hundreds of calls a minute for one user: over the tool-call limit, which would
# answer most of them 429 before any tool runs (and log each refusal). Lifted for our rows.
UNLIMITED = {"MCP_CALLS_PER_MINUTE": "1000000"}
TASKS = {"TASKS_TABLE": f"{STACK_NAME}-TasksTable"}
# Generated per run; stored in the bench's own UserTokenSecret before McpFunction's rows run.
USER_SECRET = secrets.token_urlsafe(48)
EVENTS = ROOT / ".local" / "bench" / "mcp"


def store_user_secret(bench: Bench) -> None:
    bench.aws.client("secretsmanager").put_secret_value(
        SecretId=bench.template.physical_ids["UserTokenSecret"], SecretString=USER_SECRET
    )


def tokened(fixture: str) -> str:
    """events/mcp/<fixture> with a user token in place of ${TOKEN}, and the context an authorizer
    would add for the peers (McpFunction ignores it); written under .local/bench."""
    token = mint_user_token(USER_SECRET, "user-1", ttl=24 * 3600)
    event = json.loads((ROOT / "events" / "mcp" / fixture).read_text().replace("${TOKEN}", token))
    event["requestContext"]["authorizer"] = {"lambda": {"user_id": "user-1", "token_use": "user"}}
    EVENTS.mkdir(parents=True, exist_ok=True)
    path = EVENTS / fixture
    path.write_text(json.dumps(event))
    return str(path.relative_to(ROOT))


def _oauth() -> tuple[dict[str, str], str]:
    """McpFunction's settings and a tools/list event for an OAuth client: the OAuth stand-in (its
    metadata and JWKS, served by the bench process) and an at+jwt access token for /mcp."""
    server = SERVING.enter_context(serve_authorization_server())
    event = json.loads((ROOT / "events" / "mcp" / "tools_list.json").read_text())
    resource = f"https://{event['requestContext']['domainName']}/mcp"
    token = server.mint("user-1", resource=resource, ttl=24 * 3600)
    event["headers"]["authorization"] = f"Bearer {token}"
    EVENTS.mkdir(parents=True, exist_ok=True)
    path = EVENTS / "tools_list_oauth.json"
    path.write_text(json.dumps(event))
    return {"MCP_AUTHORIZATION_SERVER": server.issuer}, str(path.relative_to(ROOT))


OAUTH_ENV, OAUTH_TOOLS_LIST = _oauth()

GROUPS = (
    ("mcp tools/list", tokened("tools_list.json")),
    ("mcp tools/call list_tasks", tokened("list_tasks.json")),
    # The same tool call failing before the tool's DynamoDB request (an id no task can have):
    # the MCP layer's own cost without the task's round trip. McpFunction still counts the call
    # against the user's limit first (one UpdateItem), as it counts every tool call.
    ("mcp tools/call, no task I/O (unknown task id)", tokened("error_task_not_found.json")),
)

CASES = [
    case
    for group, event in GROUPS
    for case in (
        Case(
            group,
            "McpFunction (ours)",
            "McpFunction",
            event,
            env=UNLIMITED,
            baseline=True,
            prepare=store_user_secret,
            note="includes checking the bearer token (HS256 user token)",
        ),
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

# The clients /mcp serves after 2026-11-30 send OAuth access tokens: checked against the
# authorization server's JWKS (fetched once, over loopback here), no Secrets Manager, no AWS SDK.
CASES.append(
    Case(
        "mcp tools/list",
        "McpFunction, OAuth access token (ours)",
        "McpFunction",
        OAUTH_TOOLS_LIST,
        env={**OAUTH_ENV, **UNLIMITED},
        note="first call = metadata + JWKS fetch (loopback) + EdDSA verify; no botocore",
    )
)

# What any handler that checks a user token itself pays on its first call: the floor of our
# cold start with a user token (the peers above leave the token to an authorizer).
CASES.append(
    Case(
        "mcp tools/list",
        "user token check alone: PyJWT + the secret (floor)",
        "local/bench/peers_mcp/token_floor.py:handler",
        tokened("tools_list.json"),
        sys_path=PEER_PATHS,
        function_env="McpFunction",
        prepare=store_user_secret,
        note="PyJWT and botocore imported, UserTokenSecret read, one HS256 verify; no MCP layer, no limits",
    )
)

# What every row of the list_tasks group pays for the database: the gap above it is the MCP layer.
CASES.append(
    Case(
        "mcp tools/call list_tasks",
        "task service alone, no MCP (DynamoDB floor)",
        "local/bench/peers_mcp/tasks_floor.py:handler",
        tokened("list_tasks.json"),
        env=TASKS,
        sys_path=PEER_PATHS,
        note="one Query against moto's DynamoDB; subtract it from a row to get that row's MCP overhead",
    )
)
