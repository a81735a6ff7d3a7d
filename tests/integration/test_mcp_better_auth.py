"""/mcp with a real Better Auth 1.7.5 app as its authorization server, through `make dev`.

The app (tests/support/better_auth) runs ``jwt()`` and ``@better-auth/mcp`` as docs/mcp.md tells a
deployment to: issuer ``<app>/api/auth``, the stack's /mcp as the resource, dynamic registration
open to anonymous MCP clients. The stack is started as such a deployment would be, with only
JWT_JWKS_URL, JWT_ISSUER and JWT_AUDIENCE: the MCP authorization server defaults to JWT_ISSUER.
Needs Node.js 20+ (skipped without it, failing under CI=true) and the npm registry.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
import pytest

from local.emulator.runtime import free_port
from tests.integration.test_mcp_oauth import run_every_tool_through
from tests.support.better_auth_app import BetterAuthApp, User, run_better_auth
from tests.support.local_stack import RunningStack, start_stack
from tests.support.mcp_oauth_client import REDIRECT_URI, Browser, MemoryStorage, connected, oauth_client
from tests.support.node import require_node

pytestmark = pytest.mark.integration

HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}


@pytest.fixture(scope="module")
def deployment() -> Iterator[tuple[BetterAuthApp, RunningStack]]:
    require_node()
    port = free_port()
    with run_better_auth(f"http://127.0.0.1:{port}/mcp") as app:
        env = {"JWT_JWKS_URL": f"{app.issuer}/jwks", "JWT_ISSUER": app.issuer, "JWT_AUDIENCE": app.url}
        with start_stack(env, port=port) as stack:
            yield app, stack


def call_tool(stack: RunningStack, token: str, name: str, arguments: dict[str, Any]) -> httpx.Response:
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    return httpx.post(
        f"{stack.url}/mcp", json=message, headers={**HEADERS, "authorization": f"Bearer {token}"}, timeout=30
    )


def test_the_sdk_client_signs_in_with_better_auth_and_calls_every_tool(
    deployment: tuple[BetterAuthApp, RunningStack],
) -> None:
    app, stack = deployment
    resource = f"{stack.url}/mcp"
    user = app.sign_up("Alice")
    storage = MemoryStorage()
    provider = oauth_client(resource, Browser(lambda url: app.approve(user, url)), storage)

    asyncio.run(run_every_tool_through(resource, provider))

    assert storage.client_info is not None and storage.client_info.client_id  # registered dynamically
    assert storage.tokens is not None
    header = jwt.get_unverified_header(storage.tokens.access_token)
    token = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert (header["typ"], header["alg"]) == ("at+jwt", "EdDSA")
    assert (token["iss"], token["aud"], token["sub"]) == (app.issuer, resource, user.user_id)
    assert {"tasks:read", "tasks:write"} <= set(token["scope"].split())


def test_the_frontends_user_token_and_the_oauth_client_see_the_same_tasks(
    deployment: tuple[BetterAuthApp, RunningStack],
) -> None:
    """One user, two ways in: the frontend's JWT (same issuer, its own audience) and an MCP client."""
    app, stack = deployment
    user = app.sign_up("Bob")
    user_token = app.user_token(user)
    claims = jwt.decode(user_token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["sub"]) == (app.issuer, app.url, user.user_id)
    title = f"from ChatKit {uuid.uuid4().hex[:6]}"
    added = call_tool(stack, user_token, "add_task", {"title": title})
    assert added.status_code == 200 and added.json()["result"]["isError"] is False

    resource = f"{stack.url}/mcp"
    provider = oauth_client(resource, Browser(lambda url: app.approve(user, url)), MemoryStorage())

    async def listing() -> Any:
        async with connected(resource, provider) as client:
            return (await client.call_tool("list_tasks", {})).structured_content

    assert [task["title"] for task in asyncio.run(listing())["tasks"]] == [title]


def authorization_code_without_resource(app: BetterAuthApp, user: User) -> str:
    """What a client that ignores RFC 8707 gets: Better Auth issues an opaque access token."""
    registered = httpx.post(
        f"{app.issuer}/oauth2/register",
        json={
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "client_name": "no resource",
        },
        timeout=30,
    )
    registered.raise_for_status()
    client_id = registered.json()["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "tasks:read tasks:write",
    }
    redirect = app.approve(user, f"{app.issuer}/oauth2/authorize?{urlencode(query)}")
    code = dict(parse_qsl(urlsplit(redirect).query))["code"]
    answer = httpx.post(
        f"{app.issuer}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def test_a_token_not_bound_to_this_resource_is_refused(
    deployment: tuple[BetterAuthApp, RunningStack],
) -> None:
    app, stack = deployment
    opaque = authorization_code_without_resource(app, app.sign_up("Carol"))
    assert opaque.count(".") != 2, "Better Auth issues an opaque token when no resource is named"

    refused = call_tool(stack, opaque, "list_tasks", {})

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
