"""The ChatKit frontend's routes over HTTP through `make dev`: sessions against a local OpenAI
stand-in, and thread mappings, with user tokens the stack's authorizer accepts."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from chatkit_backend.tokens import MCP_AUDIENCE

from local.fake_chatkit_sessions import FakeChatKitSessions, Reply, error_body, fake_chatkit_sessions
from local.token import mint_user_token
from tests.support.local_stack import RunningStack, start_stack

pytestmark = pytest.mark.integration

WORKFLOW_ID = "wf_integration_1"


@pytest.fixture(scope="module")
def openai_api() -> Iterator[FakeChatKitSessions]:
    with fake_chatkit_sessions() as server:
        yield server


@pytest.fixture(scope="module")
def api_key() -> str:
    return f"sk-test-{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def stack(openai_api: FakeChatKitSessions, api_key: str) -> Iterator[RunningStack]:
    env = {"OPENAI_API_KEY": api_key, "OPENAI_BASE_URL": openai_api.url, "CHATKIT_WORKFLOW_ID": WORKFLOW_ID}
    with start_stack(env) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_openai(openai_api: FakeChatKitSessions) -> None:
    openai_api.reset()


def stack_secret(stack: RunningStack, logical_id: str) -> str:
    return stack.client("secretsmanager").get_secret_value(
        SecretId=stack.physical_id(logical_id), VersionStage="AWSCURRENT"
    )["SecretString"]


def user_token(stack: RunningStack, user_id: str) -> str:
    """A frontend user token, as `make token` mints it: HS256 with the stack's UserTokenSecret."""
    return mint_user_token(stack_secret(stack, "UserTokenSecret"), user_id)


def as_user(stack: RunningStack, user_id: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.url, headers={"Authorization": f"Bearer {user_token(stack, user_id)}"}, timeout=30
    )


def test_the_frontend_gets_a_client_secret_and_openai_gets_the_documented_request(
    stack: RunningStack, openai_api: FakeChatKitSessions, api_key: str
) -> None:
    with as_user(stack, "alice") as alice:
        response = alice.post("/api/chatkit/session", headers={"Content-Type": "application/json"})

    assert response.status_code == 201
    assert set(response.json()) == {"client_secret", "expires_at"}
    assert response.headers["cache-control"] == "no-store"
    [sent] = openai_api.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chatkit/sessions")
    assert sent.headers["openai-beta"] == "chatkit_beta=v1"
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    assert sent.body["user"] == "alice"
    assert sent.body["workflow"]["id"] == WORKFLOW_ID
    assert sent.body["expires_after"] == {"anchor": "created_at", "seconds": 600}
    variables = sent.body["workflow"]["state_variables"]
    assert variables["user_id"] == "alice"
    claims = jwt.decode(
        variables["mcp_token"],
        stack_secret(stack, "TokenSigningSecret"),
        algorithms=["HS256"],
        audience=MCP_AUDIENCE,
    )
    assert claims["sub"] == "alice"


def test_the_mcp_token_passes_the_authorizer_on_the_mcp_route(
    stack: RunningStack, openai_api: FakeChatKitSessions
) -> None:
    with as_user(stack, "alice") as alice:
        assert alice.post("/api/chatkit/session").status_code == 201
    mcp_token = openai_api.requests[0].body["workflow"]["state_variables"]["mcp_token"]

    response = httpx.post(
        f"{stack.url}/mcp",
        headers={"Authorization": f"Bearer {mcp_token}", "Content-Type": "application/json"},
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
    )

    assert response.status_code not in (401, 403), response.text


def test_the_mcp_token_cannot_open_a_session(stack: RunningStack, openai_api: FakeChatKitSessions) -> None:
    with as_user(stack, "alice") as alice:
        alice.post("/api/chatkit/session")
    mcp_token = openai_api.requests[0].body["workflow"]["state_variables"]["mcp_token"]

    response = httpx.post(
        f"{stack.url}/api/chatkit/session", headers={"Authorization": f"Bearer {mcp_token}"}
    )

    assert response.status_code == 403
    assert len(openai_api.requests) == 1


@pytest.mark.parametrize(
    ("reply", "status", "retry_after", "attempts"),
    [
        pytest.param(
            Reply(401, error_body("Incorrect API key provided", "invalid_request_error", "invalid_api_key")),
            502,
            None,
            1,
            id="key-rejected",
        ),
        pytest.param(
            Reply(
                429,
                error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
                {"retry-after": "12"},
            ),
            429,
            "12",
            1,
            id="rate-limited",
        ),
        pytest.param(Reply(503, error_body("overloaded", "server_error")), 502, None, 2, id="openai-down"),
    ],
)
def test_openai_failures_reach_the_frontend_as_documented_statuses(
    stack: RunningStack,
    openai_api: FakeChatKitSessions,
    reply: Reply,
    status: int,
    retry_after: str | None,
    attempts: int,
) -> None:
    openai_api.script(*[reply] * attempts)

    with as_user(stack, "alice") as alice:
        response = alice.post("/api/chatkit/session", json={"thread_id": "cthr_failed"})

    assert response.status_code == status
    assert set(response.json()) == {"detail"}
    assert response.headers.get("retry-after") == retry_after
    assert len(openai_api.requests) == attempts
    assert "Incorrect API key" not in response.text
    with as_user(stack, "alice") as alice:
        listed = alice.get("/api/chatkit/threads").json()["threads"]
    assert "cthr_failed" not in [t["thread_id"] for t in listed]


def test_a_timed_out_openai_answers_504_before_api_gateways_30_s(
    stack: RunningStack, openai_api: FakeChatKitSessions
) -> None:
    # The template's OpenAITimeoutSeconds (10 s) with no retry on timeout.
    openai_api.script(Reply(200, {"late": True}, delay=12))

    started = time.monotonic()
    with as_user(stack, "alice") as alice:
        response = alice.post("/api/chatkit/session")
    elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert response.json() == {"detail": "OpenAI did not answer in time. Try again in a moment."}
    assert 9 < elapsed < 15


@pytest.mark.parametrize("body", ["{", "[]", '{"thread_id": "no spaces allowed"}', '{"unknown": 1}'])
def test_malformed_bodies_are_422(stack: RunningStack, openai_api: FakeChatKitSessions, body: str) -> None:
    with as_user(stack, "alice") as alice:
        response = alice.post(
            "/api/chatkit/session", content=body, headers={"Content-Type": "application/json"}
        )

    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)
    assert openai_api.requests == []


def test_an_unconfigured_stack_says_which_setting_is_missing(local_stack: RunningStack) -> None:
    with as_user(local_stack, "alice") as alice:
        response = alice.post("/api/chatkit/session")

    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "The server is not configured: the ChatKit workflow id is not set."
    )


def test_a_session_for_a_thread_records_it_and_the_thread_routes_serve_it(stack: RunningStack) -> None:
    with as_user(stack, "carol") as carol, as_user(stack, "dave") as dave:
        assert carol.post("/api/chatkit/session", json={"thread_id": "cthr_carol_1"}).status_code == 201
        assert (
            carol.put("/api/chatkit/threads/cthr_carol_1", json={"title": "Moving house"}).status_code == 200
        )

        [thread] = carol.get("/api/chatkit/threads").json()["threads"]
        assert (thread["thread_id"], thread["title"]) == ("cthr_carol_1", "Moving house")
        assert dave.get("/api/chatkit/threads").json() == {"threads": [], "next_cursor": None}
        assert dave.delete("/api/chatkit/threads/cthr_carol_1").status_code == 404
        assert carol.delete("/api/chatkit/threads/cthr_carol_1").status_code == 204
        assert carol.get("/api/chatkit/threads").json()["threads"] == []


def test_threads_page_newest_first_over_http(stack: RunningStack) -> None:
    with as_user(stack, "erin") as erin:
        for n in range(5):
            assert erin.put(f"/api/chatkit/threads/cthr_erin_{n}").status_code == 200
        seen, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = erin.get("/api/chatkit/threads", params=params).json()
            seen += [t["thread_id"] for t in page["threads"]]
            cursor = page["next_cursor"]
            if not cursor:
                break

    assert seen == [f"cthr_erin_{n}" for n in reversed(range(5))]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/chatkit/threads/bad.id"),
        ("GET", "/api/chatkit/threads?limit=0"),
        ("GET", "/api/chatkit/threads?cursor=%25%25"),
    ],
)
def test_bad_thread_requests_are_422_over_http(stack: RunningStack, method: str, path: str) -> None:
    with as_user(stack, "frank") as frank:
        response = frank.request(method, path)
        assert response.status_code == 422, response.text
        assert frank.get("/api/chatkit/threads").json()["threads"] == []


def test_the_functions_log_no_secret(
    stack: RunningStack, openai_api: FakeChatKitSessions, api_key: str
) -> None:
    openai_api.script(
        Reply(401, error_body(f"Incorrect API key provided: {api_key}", "invalid_request_error"))
    )
    with as_user(stack, "grace") as grace:
        assert grace.post("/api/chatkit/session").status_code == 502
        assert grace.post("/api/chatkit/session").status_code == 201
    mcp_token = openai_api.requests[-1].body["workflow"]["state_variables"]["mcp_token"]

    log = stack.log()
    assert "chatkit session created" in log and "openai refused the session request" in log
    for secret in (api_key, stack_secret(stack, "TokenSigningSecret"), mcp_token):
        assert secret not in log
