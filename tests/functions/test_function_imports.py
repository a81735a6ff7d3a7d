"""Cold start is a feature: each function imports only what it serves.

The chatkit/agents stack (about a second to import) is ChatKitFunction's alone, but for the
hosted import, which reads chatkit's types (never the agent or the web server); ``openai`` is
ChatKitFunction's and the import's; FastAPI is for the two REST functions, SessionFunction and
ThreadsFunction, which read ChatKitTable without ChatKit.
Each function is imported in a fresh interpreter with its template environment, as Lambda would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from local.emulator.runtime import function_environment
from local.template import REGION, Template

FUNCTIONS = Template.load().functions()
PROBE = """
import importlib.util, json, sys
path, *paths = sys.argv[1:]
sys.path[:0] = paths
spec = importlib.util.spec_from_file_location("lambda_app", path)
module = importlib.util.module_from_spec(spec)
sys.modules["lambda_app"] = module
spec.loader.exec_module(module)
sys.__stdout__.write(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""
# Handler functions (ChatKitFunction is a web app behind the Lambda Web Adapter, and may load all).
HANDLERS = {logical_id for logical_id, spec in FUNCTIONS.items() if not spec.web_adapter}
# chatkit's types need jinja2 (its widget templates); the agent and its server stay out.
IMPORT = "ImportHostedThreadsFunction"
# Functions that must not load a package.
FORBIDDEN = {
    "openai": HANDLERS - {IMPORT},
    "fastapi": HANDLERS - {"SessionFunction", "ThreadsFunction"},
    **{package: HANDLERS - {IMPORT} for package in ("chatkit", "jinja2")},
    **{package: HANDLERS for package in ("agents", "uvicorn")},
}


def imported_packages(logical_id: str) -> set[str]:
    spec = FUNCTIONS[logical_id]
    module, _ = spec.handler.rsplit(".", 1)
    env = function_environment(
        spec, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}, REGION
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            str(spec.code_dir / f"{module}.py"),
            str(spec.code_dir),
            *map(str, spec.layer_dirs),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("logical_id", sorted(set().union(*FORBIDDEN.values()) & set(FUNCTIONS)))
def test_functions_load_no_package_they_do_not_serve(logical_id: str) -> None:
    loaded = imported_packages(logical_id)
    assert not {package for package, banned in FORBIDDEN.items() if logical_id in banned} & loaded


def test_chatkit_function_is_the_one_web_adapter_function() -> None:
    assert sorted(set(FUNCTIONS) - HANDLERS) == ["ChatKitFunction"]


def test_the_session_and_threads_functions_load_fastapi_and_no_more() -> None:
    # The check above would pass vacuously if the probe saw no imports at all.
    assert {"fastapi", "mangum", "jwt"} <= imported_packages("SessionFunction")
    assert {"fastapi", "mangum"} <= imported_packages("ThreadsFunction")


def test_the_hosted_import_loads_chatkit_types_and_openai_but_not_the_agent() -> None:
    loaded = imported_packages(IMPORT)
    assert {"chatkit", "openai"} <= loaded
    assert not {"agents", "uvicorn", "fastapi"} & loaded


# McpFunction loads what each request needs when it needs it (docs/benchmarks.md#mcp-server): its
# import loads none of these, and each request below adds only what its token check and its tool
# call need. The packages, and the two stdlib modules urllib.request and http.client (~18 ms).
MCP_HEAVY = (
    "boto3",
    "botocore",
    "jwt",
    "cryptography",
    "aws_lambda_powertools",
    "jmespath",
    "pydantic",
    "mcp",
)
MCP_STEPS = """
import importlib.util, json, os, sys
path, *paths = sys.argv[1:]
sys.path[:0] = paths
HEAVY = set(json.loads(sys.stdin.readline()))
sys.stdout = open(os.devnull, "w")  # the function's log and metric lines

def loaded():
    packages = HEAVY & {name.split(".")[0] for name in sys.modules}
    return sorted(packages | {name for name in ("urllib.request", "http.client") if name in sys.modules})

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "McpFunction", 512, "r-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:McpFunction"

spec = importlib.util.spec_from_file_location("lambda_app", path)
module = importlib.util.module_from_spec(spec)
sys.modules["lambda_app"] = module
spec.loader.exec_module(module)
steps = [["import", None, loaded()]]
for name, event in json.loads(sys.stdin.readline()):
    steps.append([name, module.handler(event, Context())["statusCode"], loaded()])
sys.__stdout__.write(json.dumps(steps))
"""


def test_mcp_loads_only_what_each_request_needs() -> None:
    from local.emulator.events import http_event
    from local.emulator.resources import create_resources
    from local.emulator.stack import LocalAws
    from local.emulator.token import mint_user_token
    from local.standins.oauth_server import serve_authorization_server
    from tests.support.mcp_client import JSON_HEADERS, request

    aws = LocalAws.start(REGION)
    try:
        with serve_authorization_server() as oauth:
            template = Template.from_environment({"MCP_AUTHORIZATION_SERVER": oauth.issuer})
            create_resources(template, aws.client)
            secret = "test-user-secret-" + "x" * 40
            aws.client("secretsmanager").put_secret_value(
                SecretId=template.physical_ids["UserTokenSecret"], SecretString=secret
            )
            spec = template.functions()["McpFunction"]

            def mcp(message: dict[str, Any], token: str | None = None) -> dict[str, Any]:
                headers = {**JSON_HEADERS, **({"authorization": f"Bearer {token}"} if token else {})}
                return http_event("POST", "/mcp", body=message, headers=headers, user_id=None)

            user = mint_user_token(secret, "alice")
            access = oauth.mint(resource="http://127.0.0.1/mcp")
            list_tasks = request("tools/call", {"name": "list_tasks", "arguments": {}})
            events = [
                (
                    "GET metadata",
                    http_event("GET", "/.well-known/oauth-protected-resource/mcp", user_id=None),
                ),
                ("tools/list, no token", mcp(request("tools/list"))),
                ("tools/list, OAuth access token", mcp(request("tools/list"), access)),
                ("tools/list, user token", mcp(request("tools/list"), user)),
                ("tools/call, user token", mcp(list_tasks, user)),
            ]
            done = subprocess.run(
                [sys.executable, "-c", MCP_STEPS, str(spec.code_dir / "app.py"), str(spec.code_dir)]
                + [str(layer) for layer in spec.layer_dirs],
                input=json.dumps(MCP_HEAVY) + "\n" + json.dumps(events) + "\n",
                env=function_environment(spec, aws.environment(), REGION),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
    finally:
        aws.stop()
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == [
        ["import", None, []],
        ["GET metadata", 200, []],
        ["tools/list, no token", 401, []],
        # An access token: the authorization server's keys over HTTP, no AWS SDK.
        ["tools/list, OAuth access token", 200, ["cryptography", "http.client", "jwt", "urllib.request"]],
        # A user token: its secret, read with botocore (which loads jmespath).
        [
            "tools/list, user token",
            200,
            sorted([*BOTOCORE, "cryptography", "http.client", "jwt", "urllib.request"]),
        ],
        # A tool call: the limit's count and the task's query, on botocore too; still no Powertools.
        [
            "tools/call, user token",
            200,
            sorted([*BOTOCORE, "cryptography", "http.client", "jwt", "urllib.request"]),
        ],
    ]


BOTOCORE = ["botocore", "jmespath"]
