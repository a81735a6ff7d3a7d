"""McpFunction as a resource server, in-process against moto and a local authorization server:
what it answers when OAuth is not configured, when a dependency fails, and behind a custom domain.

The gateway passes a request's domain on as ``requestContext.domainName``; the tests' events come
to ``127.0.0.1``, so the resource is ``http://127.0.0.1/mcp`` unless MCP_RESOURCE_URL says otherwise.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from local.emulator.events import http_event
from local.standins.oauth_server import AuthorizationServer, serve_authorization_server
from tests.support.auth import captured_logs
from tests.support.mcp_client import JSON_HEADERS, mcp_event, request

LOCAL_RESOURCE = "http://127.0.0.1/mcp"
CUSTOM = "https://tasks.example.test/mcp"
TOOLS_LIST = request("tools/list")


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthorizationServer]:
    with serve_authorization_server() as server:
        yield server


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(
    invoke: Any, token: str | None, env: dict[str, str] | None = None, message: Any = TOOLS_LIST
) -> dict[str, Any]:
    headers = dict(JSON_HEADERS)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return invoke("McpFunction", mcp_event("POST", message, headers, user_id=None), env)


def metadata(invoke: Any, path: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return invoke("McpFunction", http_event("GET", path, user_id=None), env)


@pytest.mark.parametrize(
    "path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]
)
def test_without_an_authorization_server_there_is_no_metadata_and_a_bare_challenge(
    invoke: Any, path: str
) -> None:
    answer = metadata(invoke, path)
    assert answer["statusCode"] == 404
    assert "McpAuthorizationServer" in json.loads(answer["body"])["detail"]

    refused = call(invoke, None)
    assert (refused["statusCode"], refused["headers"]["www-authenticate"]) == (401, "Bearer")
    assert call(invoke, "not-a-token")["headers"]["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The access token is invalid"'
    )


def test_an_unreachable_authorization_server_is_503_and_other_tokens_still_work(
    invoke: Any, aws: Any
) -> None:
    env = {"MCP_AUTHORIZATION_SERVER": f"http://127.0.0.1:{closed_port()}/api/auth"}
    stranded = AuthorizationServer(base_url="http://127.0.0.1:1")
    token = stranded.mint("alice", resource=LOCAL_RESOURCE)

    with captured_logs() as logs:
        answer = call(invoke, token, env)

    assert answer["statusCode"] == 503
    assert answer["headers"]["retry-after"] == "5"
    assert "www-authenticate" not in answer["headers"]
    assert "Retry shortly" in json.loads(answer["body"])["error"]["message"]
    assert "keys unavailable" in logs.text and "Traceback" not in logs.text and token not in logs.text
    assert invoke("McpFunction", mcp_event("POST", TOOLS_LIST, JSON_HEADERS), env)["statusCode"] == 200


def test_secrets_manager_failing_is_503_not_a_refused_token(invoke: Any, aws: Any) -> None:
    event = mcp_event("POST", TOOLS_LIST, JSON_HEADERS)  # a user token, minted before the secret goes
    aws.client("secretsmanager").delete_secret(
        SecretId=aws.physical_id("UserTokenSecret"), ForceDeleteWithoutRecovery=True
    )

    answer = invoke("McpFunction", event)

    assert answer["statusCode"] == 503


def test_a_custom_domain_is_the_resource_whatever_host_the_request_came_to(
    invoke: Any, auth_server: AuthorizationServer
) -> None:
    env = {"MCP_AUTHORIZATION_SERVER": auth_server.issuer, "MCP_RESOURCE_URL": CUSTOM}

    document = json.loads(metadata(invoke, "/.well-known/oauth-protected-resource/mcp", env)["body"])
    assert document["resource"] == CUSTOM
    assert call(invoke, None, env)["headers"]["www-authenticate"].startswith(
        'Bearer resource_metadata="https://tasks.example.test/.well-known/oauth-protected-resource/mcp"'
    )
    assert call(invoke, auth_server.mint("alice", resource=CUSTOM), env)["statusCode"] == 200
    refused = call(invoke, auth_server.mint("alice", resource=LOCAL_RESOURCE), env)
    assert refused["statusCode"] == 401
    assert refused["headers"]["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_refusals_are_logged_with_a_reason_and_never_the_token(
    invoke: Any, auth_server: AuthorizationServer
) -> None:
    env = {"MCP_AUTHORIZATION_SERVER": auth_server.issuer}
    tokens = [
        auth_server.mint("alice", resource=LOCAL_RESOURCE, iss="https://evil.example.test/api/auth"),
        auth_server.mint("alice", resource=LOCAL_RESOURCE, ttl=-300),
        auth_server.mint("alice", resource=LOCAL_RESOURCE, scope="openid"),
    ]

    with captured_logs() as logs:
        statuses = [call(invoke, token, env)["statusCode"] for token in tokens]

    assert statuses == [401, 401, 403]
    reasons = [record.get("reason") for record in logs.records()]
    assert reasons == ["wrong_issuer", "expired", "insufficient_scope"]
    assert not any(token in logs.text for token in tokens)


def test_a_chat_session_token_is_refused_on_mcp(invoke: Any, aws: Any) -> None:
    from tests.support.auth_cases import session_token

    key = aws.client("secretsmanager").get_secret_value(
        SecretId=aws.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]
    add = request("tools/call", {"name": "add_task", "arguments": {"title": "from a chat session"}})

    for env in ({"MCP_AUTHORIZATION_SERVER": "https://app.example.test/api/auth"}, {}):
        answer = call(invoke, session_token("alice", key), env, add)

        assert answer["statusCode"] == 401
        assert 'error="invalid_token"' in answer["headers"]["www-authenticate"]
        assert "chat session" in answer["headers"]["www-authenticate"]
    assert aws.client("dynamodb").scan(TableName=aws.physical_id("TasksTable"))["Items"] == []
