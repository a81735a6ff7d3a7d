"""POST /api/chatkit/session: SessionFunction in-process against moto and a local OpenAI stand-in.

The real ``openai`` SDK sends the requests (pointed at the stand-in through OPENAI_BASE_URL);
the tests read back what it sent and what the frontend would receive.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from chatkit_backend.errors import RateLimited
from chatkit_backend.secret_cache import SecretCache
from chatkit_backend.sessions import SessionService, SessionSettings
from chatkit_backend.tokens import MCP_AUDIENCE

from local.events import http_event
from local.fake_chatkit_sessions import FakeChatKitSessions, Reply, error_body, fake_chatkit_sessions
from tests.conftest import AwsResources

ROUTE = "/api/chatkit/session"
WORKFLOW_ID = "wf_68e5b0c8a6b88190b0d7b5d6b1f1e3a2"


@pytest.fixture
def openai_api() -> Iterator[FakeChatKitSessions]:
    with fake_chatkit_sessions() as server:
        yield server


@pytest.fixture
def api_key(aws: AwsResources) -> str:
    """A key generated for this test, stored where the operator puts it: OpenAIApiKeySecret."""
    key = f"sk-test-{secrets.token_hex(16)}"
    aws.client("secretsmanager").put_secret_value(
        SecretId=aws.physical_id("OpenAIApiKeySecret"), SecretString=json.dumps({"api_key": key})
    )
    return key


@pytest.fixture
def signing_key(aws: AwsResources) -> str:
    return aws.client("secretsmanager").get_secret_value(
        SecretId=aws.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]


@pytest.fixture
def create(invoke, openai_api: FakeChatKitSessions, api_key: str):
    """``create(body=None, user_id="user-1", **env)``: SessionFunction's answer to one POST."""

    def run(
        body: Any = None, *, user_id: str | None = "user-1", token_use: str = "user", **env: str
    ) -> dict[str, Any]:
        overrides = {"OPENAI_BASE_URL": openai_api.url, "CHATKIT_WORKFLOW_ID": WORKFLOW_ID, **env}
        event = http_event("POST", ROUTE, body=body, user_id=user_id, token_use=token_use)
        return invoke("SessionFunction", event, overrides)

    return run


def body_of(result: dict[str, Any]) -> Any:
    return json.loads(result["body"]) if result.get("body") else None


def test_a_session_is_created_with_exactly_the_request_openai_documents(
    create, openai_api: FakeChatKitSessions, api_key: str, signing_key: str
) -> None:
    result = create()

    assert result["statusCode"] == 201
    assert result["headers"]["cache-control"] == "no-store"
    answer = body_of(result)
    assert set(answer) == {"client_secret", "expires_at"}
    [sent] = openai_api.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chatkit/sessions")
    assert sent.headers["openai-beta"] == "chatkit_beta=v1"
    assert sent.headers["authorization"] == f"Bearer {api_key}"
    mcp_token = sent.body["workflow"]["state_variables"].pop("mcp_token")
    assert sent.body == {
        "user": "user-1",
        "workflow": {"id": WORKFLOW_ID, "state_variables": {"user_id": "user-1"}},
        "chatkit_configuration": {
            "history": {"enabled": True},
            "automatic_thread_titling": {"enabled": True},
            "file_upload": {"enabled": False},
        },
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "rate_limits": {"max_requests_per_1_minute": 10},
    }
    # The stand-in answered with a secret of its own making; the frontend gets exactly that.
    assert answer["client_secret"].startswith("ek_test_")
    assert abs(answer["expires_at"] - (time.time() + 600)) < 5
    claims = jwt.decode(mcp_token, signing_key, algorithms=["HS256"], audience=MCP_AUDIENCE)
    assert claims["sub"] == "user-1"
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["exp"] - answer["expires_at"]) <= 2


def test_the_mcp_token_is_useless_under_any_other_key_or_audience(
    create, openai_api: FakeChatKitSessions, signing_key: str
) -> None:
    create()
    mcp_token = openai_api.requests[0].body["workflow"]["state_variables"]["mcp_token"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(mcp_token, signing_key + "x", algorithms=["HS256"], audience=MCP_AUDIENCE)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(mcp_token, signing_key, algorithms=["HS256"], audience="https://app.example")


def test_the_template_parameters_shape_the_session(
    create, openai_api: FakeChatKitSessions, signing_key: str
) -> None:
    result = create(
        CHATKIT_WORKFLOW_VERSION="7",
        ChatKitHistoryEnabled="false",
        ChatKitHistoryRecentThreads="5",
        ChatKitAutomaticThreadTitling="false",
        ChatKitFileUploadEnabled="true",
        ChatKitFileUploadMaxFiles="3",
        ChatKitFileUploadMaxFileSizeMb="20",
        ChatKitSessionSeconds="120",
        ChatKitRateLimitPerMinute="30",
    )

    assert result["statusCode"] == 201
    sent = openai_api.requests[0].body
    assert sent["workflow"]["version"] == "7"
    assert sent["chatkit_configuration"] == {
        "history": {"enabled": False, "recent_threads": 5},
        "automatic_thread_titling": {"enabled": False},
        "file_upload": {"enabled": True, "max_files": 3, "max_file_size": 20},
    }
    assert sent["expires_after"] == {"anchor": "created_at", "seconds": 120}
    assert sent["rate_limits"] == {"max_requests_per_1_minute": 30}
    claims = jwt.decode(
        sent["workflow"]["state_variables"]["mcp_token"],
        signing_key,
        algorithms=["HS256"],
        audience=MCP_AUDIENCE,
    )
    assert claims["exp"] - claims["iat"] == 120


def test_calling_again_is_the_refresh_path(create, openai_api: FakeChatKitSessions) -> None:
    first, second = body_of(create()), body_of(create())

    assert first["client_secret"] != second["client_secret"]
    tokens = [r.body["workflow"]["state_variables"]["mcp_token"] for r in openai_api.requests]
    assert len(tokens) == 2 and tokens[0] != tokens[1]


def test_each_user_gets_a_session_and_token_of_their_own(
    create, openai_api: FakeChatKitSessions, signing_key: str
) -> None:
    create(user_id="alice")
    create(user_id="bob")

    for sent, user in zip(openai_api.requests, ["alice", "bob"], strict=True):
        assert sent.body["user"] == user
        assert sent.body["workflow"]["state_variables"]["user_id"] == user
        token = sent.body["workflow"]["state_variables"]["mcp_token"]
        assert jwt.decode(token, signing_key, algorithms=["HS256"], audience=MCP_AUDIENCE)["sub"] == user


def test_a_thread_id_in_the_body_records_the_thread_for_the_user(create, invoke, aws: AwsResources) -> None:
    assert create({"thread_id": "cthr_abc123"})["statusCode"] == 201

    listed = invoke("ThreadsFunction", http_event("GET", "/api/chatkit/threads"))
    assert [t["thread_id"] for t in body_of(listed)["threads"]] == ["cthr_abc123"]
    other = invoke("ThreadsFunction", http_event("GET", "/api/chatkit/threads", user_id="user-2"))
    assert body_of(other)["threads"] == []


RATE_LIMIT = {
    "error": {
        "message": "Rate limit reached",
        "type": "requests",
        "code": "rate_limit_exceeded",
        "param": None,
    }
}


@pytest.mark.parametrize(
    ("replies", "status", "detail", "retry_after", "attempts"),
    [
        pytest.param(
            [
                Reply(
                    401,
                    error_body(
                        "Incorrect API key provided: sk-test-****. You can find your API key at ...",
                        "invalid_request_error",
                        "invalid_api_key",
                    ),
                )
            ],
            502,
            "OpenAI rejected the server's API key",
            None,
            1,
            id="key-rejected",
        ),
        pytest.param(
            [Reply(403, error_body("Project does not have access", "invalid_request_error"))],
            502,
            "OpenAI rejected the server's API key",
            None,
            1,
            id="key-forbidden",
        ),
        pytest.param(
            [Reply(404, error_body("Workflow not found", "invalid_request_error"))],
            502,
            "OpenAI does not know the configured ChatKit workflow",
            None,
            1,
            id="unknown-workflow",
        ),
        pytest.param(
            [Reply(400, error_body("Invalid 'expires_after'", "invalid_request_error"))],
            502,
            "OpenAI refused the session request (status 400)",
            None,
            1,
            id="request-refused",
        ),
        pytest.param(
            [Reply(429, RATE_LIMIT, {"retry-after": "7"})], 429, "rate limiting", "7", 1, id="rate-limited"
        ),
        pytest.param(
            [Reply(429, RATE_LIMIT, {"retry-after-ms": "1500"})],
            429,
            "rate limiting",
            "2",
            1,
            id="rate-limited-ms",
        ),
        pytest.param([Reply(429, RATE_LIMIT)], 429, "rate limiting", "10", 1, id="rate-limited-no-header"),
        pytest.param(
            [
                Reply(
                    429,
                    error_body("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
                )
            ],
            502,
            "quota is used up",
            None,
            1,
            id="quota-exhausted",
        ),
        pytest.param(
            [Reply(500, error_body("boom", "server_error")), Reply(503, error_body("boom", "server_error"))],
            502,
            "OpenAI failed to create the session",
            None,
            2,
            id="server-error-twice",
        ),
    ],
)
def test_openai_failures_become_statuses_the_frontend_can_act_on(
    create,
    openai_api: FakeChatKitSessions,
    api_key: str,
    capsys: pytest.CaptureFixture[str],
    replies: list[Reply],
    status: int,
    detail: str,
    retry_after: str | None,
    attempts: int,
) -> None:
    openai_api.script(*replies)

    result = create({"thread_id": "cthr_never_recorded"})

    assert result["statusCode"] == status
    assert detail in body_of(result)["detail"]
    assert result["headers"].get("retry-after") == retry_after
    assert len(openai_api.requests) == attempts
    # OpenAI's own message is not passed on (it can quote the key), and the key is never logged.
    assert "Incorrect API key" not in result["body"]
    assert api_key not in result["body"] and api_key not in capsys.readouterr().out


def test_a_failed_session_records_no_thread(create, invoke, openai_api: FakeChatKitSessions) -> None:
    openai_api.script(Reply(401, error_body("bad key", "invalid_request_error", "invalid_api_key")))

    assert create({"thread_id": "cthr_abc123"})["statusCode"] == 502

    listed = invoke("ThreadsFunction", http_event("GET", "/api/chatkit/threads"))
    assert body_of(listed)["threads"] == []


def test_one_server_error_is_retried_once(create, openai_api: FakeChatKitSessions) -> None:
    openai_api.script(Reply(500, error_body("boom", "server_error")))

    result = create()

    assert result["statusCode"] == 201
    assert len(openai_api.requests) == 2


def test_a_slow_openai_answers_504_after_one_attempt(create, openai_api: FakeChatKitSessions) -> None:
    # The answer comes far later than the 1 s timeout, so "returned well before it" proves the
    # function gave up on time without a tight bound that a loaded machine would break.
    openai_api.script(Reply(200, {"late": True}, delay=10))
    # Load the function first (a 401 asks OpenAI nothing): on a busy machine its imports alone
    # can take a second or two, which is not what this measures.
    assert create(user_id=None, OpenAITimeoutSeconds="1")["statusCode"] == 401

    started = time.monotonic()
    result = create(OpenAITimeoutSeconds="1")
    elapsed = time.monotonic() - started

    assert result["statusCode"] == 504
    assert body_of(result) == {"detail": "OpenAI did not answer in time. Try again in a moment."}
    assert len(openai_api.requests) == 1
    assert elapsed < 6


def test_an_unreachable_openai_is_502(invoke, api_key: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    event = http_event("POST", ROUTE)

    result = invoke("SessionFunction", event, {"OPENAI_BASE_URL": closed, "CHATKIT_WORKFLOW_ID": WORKFLOW_ID})

    assert result["statusCode"] == 502
    assert body_of(result) == {"detail": "OpenAI could not be reached. Try again in a moment."}


@pytest.mark.parametrize(
    ("secret_value", "workflow_id", "setting"),
    [
        pytest.param('{"api_key":""}', WORKFLOW_ID, "the OpenAI API key", id="empty-key"),
        pytest.param('{"api_key":"sk-..."}', WORKFLOW_ID, "the OpenAI API key", id="docs-example-key"),
        pytest.param("{}", WORKFLOW_ID, "the OpenAI API key", id="no-key-field"),
        pytest.param("sk-not-json", WORKFLOW_ID, "the OpenAI API key", id="not-json"),
        pytest.param('{"api_key":"sk-test-configured"}', "", "the ChatKit workflow id", id="no-workflow"),
    ],
)
def test_missing_settings_answer_503_naming_the_setting(
    invoke,
    aws: AwsResources,
    openai_api: FakeChatKitSessions,
    secret_value: str,
    workflow_id: str,
    setting: str,
) -> None:
    aws.client("secretsmanager").put_secret_value(
        SecretId=aws.physical_id("OpenAIApiKeySecret"), SecretString=secret_value
    )
    overrides = {"OPENAI_BASE_URL": openai_api.url}
    if workflow_id:
        overrides["CHATKIT_WORKFLOW_ID"] = workflow_id

    result = invoke("SessionFunction", http_event("POST", ROUTE), overrides)

    assert result["statusCode"] == 503
    assert body_of(result)["detail"].startswith(f"The server is not configured: {setting} is not set.")
    assert "sk-" not in body_of(result)["detail"].replace('"sk-..."', "")
    assert openai_api.requests == []


def test_the_template_default_has_no_key_and_says_so(invoke, openai_api: FakeChatKitSessions) -> None:
    result = invoke("SessionFunction", http_event("POST", ROUTE), {"CHATKIT_WORKFLOW_ID": WORKFLOW_ID})

    assert result["statusCode"] == 503
    assert "OpenAIApiKeySecret" in body_of(result)["detail"]


def test_without_an_identity_the_answer_is_401(create, openai_api: FakeChatKitSessions) -> None:
    result = create(user_id=None)

    assert result["statusCode"] == 401
    assert body_of(result) == {"detail": "Authentication required. Please log in."}
    assert openai_api.requests == []


@pytest.mark.parametrize("body", [None, {"thread_id": "cthr_abc"}, "not json"])
def test_an_mcp_token_cannot_open_sessions(create, openai_api: FakeChatKitSessions, body: Any) -> None:
    result = create(body, token_use="mcp")

    assert result["statusCode"] == 403
    assert body_of(result) == {
        "detail": "This route needs the user's sign-in token; MCP tokens only work on /mcp."
    }
    assert openai_api.requests == []


def test_identity_is_checked_before_the_body(create, openai_api: FakeChatKitSessions) -> None:
    result = create("not json", user_id=None)

    assert (result["statusCode"], body_of(result)) == (
        401,
        {"detail": "Authentication required. Please log in."},
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{",
        "[1, 2]",
        '"cthr_abc"',
        {"thread_id": 5},
        {"thread_id": ""},
        {"thread_id": "has space"},
        {"thread_id": "x" * 129},
        {"thread_id": "../other"},
        {"thread_id": None, "extra": True},
        {"user": "someone-else"},
    ],
    ids=lambda b: (b if isinstance(b, str) else json.dumps(b))[:30],
)
def test_malformed_bodies_are_422_and_change_nothing(
    create, invoke, openai_api: FakeChatKitSessions, body: Any
) -> None:
    event_body = body if isinstance(body, str) else json.dumps(body)

    result = create(event_body)

    assert result["statusCode"] == 422
    assert isinstance(body_of(result)["detail"], str)
    assert openai_api.requests == []
    listed = invoke("ThreadsFunction", http_event("GET", "/api/chatkit/threads"))
    assert body_of(listed)["threads"] == []


def test_an_empty_body_and_an_empty_object_both_create_a_session(create) -> None:
    assert create(None)["statusCode"] == 201
    assert create({})["statusCode"] == 201
    assert create({"thread_id": None})["statusCode"] == 201


def test_a_new_key_in_the_secret_is_used_once_the_cache_expires(
    aws: AwsResources, openai_api: FakeChatKitSessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = aws.function_env(
        "SessionFunction", {"OPENAI_BASE_URL": openai_api.url, "CHATKIT_WORKFLOW_ID": WORKFLOW_ID}
    )
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    secret_id = aws.physical_id("OpenAIApiKeySecret")
    service = SessionService(SessionSettings.from_env(), SecretCache(max_age=0))
    old_key, new_key = f"sk-test-{secrets.token_hex(8)}", f"sk-test-{secrets.token_hex(8)}"

    aws.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"api_key": old_key})
    )
    service.create_session("user-1")
    first_client = service.clients.get(old_key)
    aws.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"api_key": new_key})
    )
    service.create_session("user-1")

    assert [r.headers["authorization"] for r in openai_api.requests] == [
        f"Bearer {old_key}",
        f"Bearer {new_key}",
    ]
    assert service.clients.get(new_key) is not first_client
    assert service.clients.get(new_key) is service.clients.get(new_key)


def test_rate_limit_keeps_openais_retry_after(
    aws: AwsResources, openai_api: FakeChatKitSessions, api_key: str, monkeypatch
) -> None:
    for name, value in aws.function_env(
        "SessionFunction", {"OPENAI_BASE_URL": openai_api.url, "CHATKIT_WORKFLOW_ID": WORKFLOW_ID}
    ).items():
        monkeypatch.setenv(name, value)
    service = SessionService(SessionSettings.from_env())
    openai_api.script(Reply(429, RATE_LIMIT, {"retry-after": "2.2"}))

    with pytest.raises(RateLimited) as refused:
        service.create_session("user-1")

    assert refused.value.retry_after == 3
