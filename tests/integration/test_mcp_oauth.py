"""/mcp as an OAuth 2.1 resource server, through `make dev`, with a local authorization server.

The stack runs with MCP_AUTHORIZATION_SERVER naming the stand-in (local/standins/oauth_server.py,
laid out as Better Auth's MCP plugin), the frontend's JWKS for user tokens, and the stand-in's
confidential client in McpIntrospectionClientSecret. What a client sees is checked as it sees it:
the Protected Resource Metadata, each 401/403/400 and its WWW-Authenticate header, which tokens
name this resource, and the official SDK's OAuthClientProvider running the whole flow
(discovery from the 401, metadata, registration, authorization code with PKCE, a token bound to
the resource) before it calls every tool.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from chatkit_backend.auth.tokens import mint_session_token
from mcp.shared.auth import ProtectedResourceMetadata

from local.emulator.token import mint_user_token
from local.standins.jwks import JwksServer, SigningKey, new_key
from local.standins.oauth_server import AuthorizationServer, serve_authorization_server
from tests.integration.test_mcp_clients import TOOL_NAMES, run_every_tool
from tests.support.auth import AUDIENCE, ISSUER, claims, unsigned
from tests.support.local_stack import RunningStack, start_stack
from tests.support.mcp_oauth_client import Browser, MemoryStorage, connected, oauth_client

pytestmark = pytest.mark.integration

SCOPES = "tasks:read tasks:write"
ASKED = f"{SCOPES} offline_access"
TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthorizationServer]:
    with serve_authorization_server() as server:
        yield server


@pytest.fixture(scope="module")
def stack(auth_server: AuthorizationServer, jwks_server: JwksServer) -> Iterator[RunningStack]:
    env = {
        "MCP_AUTHORIZATION_SERVER": auth_server.issuer,
        "JWT_JWKS_URL": jwks_server.url,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
    }
    with start_stack(env) as running:
        introspector = auth_server.register_confidential()
        running.client("secretsmanager").put_secret_value(
            SecretId=running.physical_id("McpIntrospectionClientSecret"),
            SecretString=json.dumps(
                {"client_id": introspector.client_id, "client_secret": introspector.client_secret}
            ),
        )
        yield running


@pytest.fixture(autouse=True)
def fresh_consent(auth_server: AuthorizationServer) -> None:
    auth_server.consent = lambda requested: requested
    auth_server.opaque = False


@pytest.fixture
def resource(stack: RunningStack) -> str:
    return f"{stack.url}/mcp"


@pytest.fixture
def metadata_url(stack: RunningStack) -> str:
    return f"{stack.url}/.well-known/oauth-protected-resource/mcp"


def post(
    stack: RunningStack, token: str | None, message: dict[str, Any] = TOOLS_LIST, **headers: str
) -> httpx.Response:
    sent = {**HEADERS, **headers}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    return httpx.post(f"{stack.url}/mcp", json=message, headers=sent, timeout=30)


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


# ---- metadata and challenges ---------------------------------------------------------------


def test_protected_resource_metadata_is_served_at_both_well_known_urls(
    stack: RunningStack, auth_server: AuthorizationServer, resource: str
) -> None:
    documents = []
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        response = httpx.get(f"{stack.url}{path}", timeout=30)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert "max-age" in response.headers["cache-control"]
        documents.append(response.json())

    assert (
        documents[0]
        == documents[1]
        == {
            "resource": resource,
            "authorization_servers": [auth_server.issuer],
            "scopes_supported": ["tasks:read", "tasks:write"],
            "bearer_methods_supported": ["header"],
            "resource_name": "ChatKit Tasks",
        }
    )
    # What the SDK parses it with (RFC 9728 section 2).
    assert str(ProtectedResourceMetadata.model_validate(documents[0]).resource) == resource


def test_a_request_without_a_token_gets_the_discovery_challenge(
    stack: RunningStack, metadata_url: str
) -> None:
    response = post(stack, None)

    assert response.status_code == 401
    assert (
        response.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata_url}", scope="{SCOPES}"'
    )
    assert response.json()["error"]["code"] == -32600


def test_a_malformed_authorization_header_is_a_bad_request(stack: RunningStack, metadata_url: str) -> None:
    response = httpx.post(
        f"{stack.url}/mcp", json=TOOLS_LIST, headers={**HEADERS, "authorization": "Bearer a b"}
    )

    assert response.status_code == 400
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_request", error_description="')
    assert f'resource_metadata="{metadata_url}"' in challenge


def other_server_key() -> SigningKey:
    return new_key("EdDSA")


# Tokens that name or almost name this resource, and must be refused: (id, token factory, description).
# One that does not name it is no access token for /mcp: it is checked as a user token, and fails.
REFUSED: list[tuple[str, Any, str]] = [
    ("issued for another resource", lambda a, r: a.mint(resource="https://other.example/mcp"), "invalid"),
    ("issued for a sibling path", lambda a, r: a.mint(resource=r + "2"), "invalid"),
    ("issued for the origin only", lambda a, r: a.mint(resource=r.rsplit("/", 1)[0]), "invalid"),
    (
        "audience list without this resource",
        lambda a, r: a.mint(resource=["https://other.example/mcp", "client"]),
        "invalid",
    ),
    ("no audience", lambda a, r: a.mint(resource=None), "invalid"),
    (
        "signed by a key the server never published",
        lambda a, r: a.mint(resource=r, key=other_server_key()),
        "invalid",
    ),
    (
        "another issuer with this server's key",
        lambda a, r: a.mint(resource=r, iss="https://evil.example/api/auth"),
        "not issued by this resource",
    ),
    ("expired", lambda a, r: a.mint(resource=r, ttl=-120), "expired"),
    ("no subject", lambda a, r: a.mint(None, resource=r), "invalid"),
    ("an ID token's type", lambda a, r: a.mint(resource=r, typ="id_token+jwt"), "invalid"),
    (
        "alg none",
        lambda a, r: unsigned(jwt.decode(a.mint(resource=r), options={"verify_signature": False})),
        "invalid",
    ),
    ("an opaque token the server never issued", lambda a, r: "opaque-" + uuid.uuid4().hex, "not active"),
]


@pytest.mark.parametrize(
    ("make_token", "description"), [(m, d) for _, m, d in REFUSED], ids=[i for i, _, _ in REFUSED]
)
def test_refused_access_tokens_get_invalid_token(
    stack: RunningStack,
    auth_server: AuthorizationServer,
    resource: str,
    metadata_url: str,
    make_token: Any,
    description: str,
) -> None:
    response = post(stack, make_token(auth_server, resource))

    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="invalid_token", error_description="')
    assert description in challenge
    assert challenge.endswith(f'resource_metadata="{metadata_url}", scope="{SCOPES}"')
    assert "Traceback" not in stack.log()


ACCEPTED: list[tuple[str, Any]] = [
    ("aud is the resource", lambda a, r, u: a.mint(u, resource=r)),
    ("aud lists the resource (openid asked too)", lambda a, r, u: a.mint(u, resource=[r, "client-id"])),
    (
        "aud spelled with upper-case host",
        lambda a, r, u: a.mint(u, resource=r.replace("http://127.0.0.1", "HTTP://127.0.0.1")),
    ),
    ("typ JWT", lambda a, r, u: a.mint(u, resource=r, typ="JWT")),
    ("no typ", lambda a, r, u: a.mint(u, resource=r, typ=None)),
    (
        "scopes as an scp list",
        lambda a, r, u: a.mint(u, resource=r, scope=None, scp=["tasks:read", "tasks:write"]),
    ),
]


@pytest.mark.parametrize("make_token", [m for _, m in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_access_tokens_for_this_resource_act_for_their_subject(
    stack: RunningStack, auth_server: AuthorizationServer, resource: str, make_token: Any
) -> None:
    user = new_user()

    added = post(
        stack, make_token(auth_server, resource, user), tool_call("add_task", {"title": "via OAuth"})
    )

    assert added.status_code == 200, added.text
    assert added.json()["result"]["isError"] is False
    # The same user, signed in to the frontend (a user token), sees the task: the user is `sub`.
    secret = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]
    listed = post(
        stack, mint_user_token(secret, user, issuer=ISSUER, audience=AUDIENCE), tool_call("list_tasks", {})
    )
    assert [t["title"] for t in listed.json()["result"]["structuredContent"]["tasks"]] == ["via OAuth"]


def test_user_tokens_still_work_on_mcp_and_session_tokens_never_do(
    stack: RunningStack, keys: dict[str, SigningKey]
) -> None:
    signing_key = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]
    added = post(
        stack, keys["EdDSA"].sign(claims(new_user())), tool_call("add_task", {"title": "first party"})
    )
    assert added.json()["result"]["isError"] is False
    for session in (
        mint_session_token(new_user(), signing_key, 300),
        mint_session_token(new_user(), signing_key, 60, now=time.time() - 600),
    ):
        assert post(stack, session.token, tool_call("add_task", {"title": "no"})).status_code == 401


@pytest.mark.parametrize(
    ("scope", "message", "missing"),
    [
        ("tasks:read", tool_call("add_task", {"title": "no"}), "tasks:write"),
        ("tasks:read", tool_call("delete_task", {"task_id": "x"}), "tasks:write"),
        ("openid profile", TOOLS_LIST, "tasks:read"),
        (None, tool_call("list_tasks", {}), "tasks:read"),
        ("tasks:write", TOOLS_LIST, "tasks:read"),
    ],
)
def test_missing_scope_is_403_insufficient_scope_and_changes_nothing(
    stack: RunningStack,
    auth_server: AuthorizationServer,
    resource: str,
    metadata_url: str,
    scope: str | None,
    message: dict[str, Any],
    missing: str,
) -> None:
    user = new_user()

    response = post(stack, auth_server.mint(user, resource=resource, scope=scope), message)

    assert response.status_code == 403, response.text
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", error_description="This call needs the {missing} scope", '
        f'resource_metadata="{metadata_url}", scope="{SCOPES}"'
    )
    everything = auth_server.mint(user, resource=resource, scope=SCOPES)
    assert (
        post(stack, everything, tool_call("list_tasks", {})).json()["result"]["structuredContent"]["tasks"]
        == []
    )


def test_read_scope_alone_reads(stack: RunningStack, auth_server: AuthorizationServer, resource: str) -> None:
    token = auth_server.mint(new_user(), resource=resource, scope="tasks:read")

    assert [t["name"] for t in post(stack, token).json()["result"]["tools"]] == TOOL_NAMES
    assert post(stack, token, tool_call("list_tasks", {})).json()["result"]["isError"] is False


def test_opaque_tokens_are_introspected_once_a_minute(
    stack: RunningStack, auth_server: AuthorizationServer, resource: str
) -> None:
    auth_server.opaque = True
    user = new_user()
    token = auth_server.issue(user, resource)
    before = auth_server.count("/oauth2/introspect")

    for title in ("one", "two", "three"):
        assert (
            post(stack, token, tool_call("add_task", {"title": title})).json()["result"]["isError"] is False
        )

    assert auth_server.count("/oauth2/introspect") == before + 1
    # An opaque token the server issued without a resource is not for this one (RFC 8707).
    refused = post(stack, auth_server.issue(user, None))
    assert (
        refused.status_code == 401 and "not issued for this resource" in refused.headers["www-authenticate"]
    )


# ---- the official SDK client runs the flow ----------------------------------------------------


def stand_in_browser() -> Browser:
    """The stand-in approves for its signed-in user at once: the authorization URL redirects back."""

    def open_url(url: str) -> str:
        response = httpx.get(url, timeout=30)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    return Browser(open_url)


async def run_every_tool_through(resource: str, provider: Any, mode: str = "auto") -> None:
    async with connected(resource, provider, mode) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == TOOL_NAMES

        async def call(name: str, arguments: dict[str, Any]) -> Any:
            result = await client.call_tool(name, arguments)
            assert result.is_error is False, result
            return result.structured_content

        await run_every_tool(call)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_sdk_client_discovers_registers_authorizes_and_calls_every_tool(
    stack: RunningStack, auth_server: AuthorizationServer, resource: str, mode: str
) -> None:
    auth_server.user = new_user()
    browser, storage = stand_in_browser(), MemoryStorage()
    first = len(auth_server.requests)

    asyncio.run(run_every_tool_through(resource, oauth_client(resource, browser, storage), mode))

    sent = auth_server.requests[first:]
    paths = [path for _, path, _ in sent]
    # Discovery: the issuer's path-inserted RFC 8414 metadata, then one registration and one token.
    assert paths[0] == "/.well-known/oauth-authorization-server/api/auth"
    assert paths.count("/api/auth/oauth2/register") == 1 and paths.count("/api/auth/oauth2/token") == 1
    (authorize,) = [params for _, path, params in sent if path.endswith("/authorize")]
    (exchange,) = [params for _, path, params in sent if path.endswith("/token")]
    # The challenge's scope, plus offline_access for a refresh token, which the server supports (SEP-2207).
    assert (authorize["resource"], authorize["scope"], authorize["code_challenge_method"]) == (
        resource,
        ASKED,
        "S256",
    )
    assert exchange["resource"] == resource and len(exchange["code_verifier"]) >= 43
    token = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})  # type: ignore[union-attr]
    assert (token["aud"], token["sub"], token["scope"]) == (resource, auth_server.user, ASKED)
    assert len(browser.opened) == 1


def test_the_sdk_client_steps_up_when_a_write_needs_a_scope_it_was_not_granted(
    stack: RunningStack, auth_server: AuthorizationServer, resource: str
) -> None:
    auth_server.user = new_user()
    # The user grants reading only, the first time; asked again, they grant what is asked.
    grants: list[list[str]] = []

    def consent(requested: list[str]) -> list[str]:
        grants.append(["tasks:read"] if not grants else requested)
        return grants[-1]

    auth_server.consent = consent
    browser, storage = stand_in_browser(), MemoryStorage()

    asyncio.run(run_every_tool_through(resource, oauth_client(resource, browser, storage)))

    assert grants == [["tasks:read"], ASKED.split()]
    assert len(browser.opened) == 2
    assert dict(parse_qsl(urlsplit(browser.opened[1]).query))["scope"] == ASKED
