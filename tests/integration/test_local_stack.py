"""`make dev` serves the template's API over HTTP; `make invoke` runs one function on one event."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from local.emulator.demo import demo_origins
from local.template import ROOT
from tests.support.local_stack import RunningStack, start_stack

pytestmark = pytest.mark.integration


def test_health_answers_without_a_token(local_stack: RunningStack) -> None:
    response = httpx.get(f"{local_stack.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert local_stack.wait_for_log("GET /health 200 HealthFunction auth=none")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/chatkit/session"),
        ("GET", "/api/chatkit/threads"),
        ("PUT", "/api/chatkit/threads/cthr_1"),
        ("DELETE", "/api/chatkit/threads/cthr_1"),
    ],
)
def test_protected_routes_refuse_a_request_without_a_token(
    local_stack: RunningStack, method: str, path: str
) -> None:
    response = httpx.request(method, f"{local_stack.url}{path}", json={})
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert local_stack.wait_for_log(f"{method} {path} 401")
    lines = [line for line in local_stack.log().splitlines() if f"{method} {path} 401" in line]
    assert all(line.endswith("ms") and "auth=missing-identity" in line for line in lines), lines


def test_mcp_refuses_a_request_without_a_token_itself(local_stack: RunningStack) -> None:
    """/mcp has no gateway authorizer: McpFunction answers, with the challenge MCP clients read."""
    response = httpx.post(f"{local_stack.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == -32600
    assert local_stack.wait_for_log("POST /mcp 401 McpFunction auth=none")


def test_preflight_from_an_allowed_origin_is_answered(local_stack: RunningStack) -> None:
    response = httpx.options(
        f"{local_stack.url}/mcp",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization,content-type"


def test_preflight_from_another_origin_is_refused(local_stack: RunningStack) -> None:
    response = httpx.options(
        f"{local_stack.url}/mcp",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_unknown_route_is_404(local_stack: RunningStack) -> None:
    response = httpx.get(f"{local_stack.url}/nope")
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_the_template_resources_exist_in_the_stack_aws(local_stack: RunningStack) -> None:
    tables = local_stack.client("dynamodb").list_tables()["TableNames"]
    assert {local_stack.physical_id("TasksTable"), local_stack.physical_id("ThreadsTable")} <= set(tables)
    secrets = {s["ARN"] for s in local_stack.client("secretsmanager").list_secrets()["SecretList"]}
    assert local_stack.physical_id("TokenSigningSecret") in secrets


def test_design_variables_reach_the_template_parameters() -> None:
    env = {
        "ALLOWED_ORIGINS": "https://app.example",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "CHATKIT_SESSION_SECONDS": "120",
    }
    with start_stack(env) as stack:
        state = json.loads((stack.state_dir / "stack.json").read_text())
        # The demo page's origins come after the configured ones (make dev serves that page).
        demo_port = int(stack.demo_url.rsplit(":", 1)[1])
        assert state["parameters"]["AllowedOrigins"] == ["https://app.example", *demo_origins(demo_port)]
        assert state["parameters"]["OpenAIBaseUrl"] == "http://127.0.0.1:9/v1"
        assert state["parameters"]["ChatKitSessionSeconds"] == "120"
        preflight = httpx.options(
            f"{stack.url}/mcp",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"


def test_ctrl_c_stops_the_stack_and_forgets_its_state() -> None:
    import signal

    with start_stack() as stack:
        httpx.get(f"{stack.url}/health")  # a worker process is running
        stack.process.send_signal(signal.SIGINT)
        assert stack.process.wait(timeout=15) == 0
        assert not (stack.state_dir / "stack.json").exists()
        assert "Traceback" not in stack.log()


def run_invoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.emulator.invoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_invoke_prints_only_the_result_and_uses_the_running_stack(local_stack: RunningStack) -> None:
    done = run_invoke("HealthFunction", "events/health/ok.json", env=local_stack.environment())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["statusCode"] == 200
    assert "running local stack" in done.stderr


def test_make_invoke_without_a_stack_uses_an_ephemeral_aws(tmp_path) -> None:
    import os

    done = run_invoke(
        "HealthFunction", "events/health/ok.json", env={**os.environ, "LOCAL_STATE_DIR": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(json.loads(done.stdout)["body"])["status"] == "ok"
    assert "ephemeral" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("NoSuchFunction", "events/health/ok.json"), "no function"),
        (("HealthFunction", "missing.json"), "cannot read event"),
    ],
)
def test_make_invoke_explains_bad_arguments(args: tuple[str, str], message: str) -> None:
    done = run_invoke(*args)
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""
