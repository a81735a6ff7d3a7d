"""Token checks through `make dev`: every refused token is refused, good ones reach the function.

Two doors, one verifier: the gateway authorizer in front of the user routes and POST /chatkit
(401/403 from API Gateway) and McpFunction on /mcp, which answers its own 401 with a
WWW-Authenticate challenge (400 for an Authorization header that is not "Bearer <token>"). A chat
session's token works on POST /chatkit only, until it expires. The stack runs with JWT_JWKS_URL
pointing at a JWKS this test serves on 127.0.0.1, as a Better Auth app would serve
/api/auth/jwks. `make token` and `make rotate` run against it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from chatkit_backend.auth.tokens import mint_session_token

from local.standins.jwks import JwksServer, SigningKey
from local.template import ROOT, Template
from tests.support.auth import AUDIENCE, ISSUER, SecretsStack, claims
from tests.support.auth_cases import REJECTIONS, Case, World, bearer, session_token
from tests.support.chat import Chat
from tests.support.local_stack import RunningStack, start_stack

pytestmark = pytest.mark.integration

ROUTES = {
    "gateway": ("GET", "/api/chatkit/threads"),
    "mcp": ("POST", "/mcp"),
    "chatkit": ("POST", "/chatkit"),
}
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
THREADS_LIST = {"type": "threads.list", "params": {}}
# How /mcp refuses what the authorizer refuses (RFC 6750 section 3.1): no bearer credentials get a
# bare challenge, a malformed header is a bad request, every other refused token is invalid_token.
MCP_REFUSALS = {
    "missing_header": (401, None),
    "wrong_scheme": (401, None),
    "malformed_header": (400, "invalid_request"),
}
# The authorizer re-reads the signing secret after a signature miss at most once a second.
KEY_REFRESH_PAUSE = 1.2


@pytest.fixture(scope="module")
def auth_stack(jwks_server: JwksServer) -> Iterator[RunningStack]:
    with start_stack(
        {"JWT_JWKS_URL": jwks_server.url, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}
    ) as stack:
        yield stack


@pytest.fixture
def world(
    auth_stack: RunningStack,
    keys: dict[str, SigningKey],
    jwks_server: JwksServer,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    return World(SecretsStack(auth_stack), jwks_server, keys, monkeypatch)


def call(stack: RunningStack, authorization: str | None, route: str = "gateway") -> httpx.Response:
    method, path = ROUTES[route]
    headers = {} if authorization is None else {"authorization": authorization}
    body = {"mcp": PING, "chatkit": THREADS_LIST}.get(route)
    return httpx.request(method, f"{stack.url}{path}", headers=headers, json=body, timeout=30)


def let_through(response: httpx.Response) -> bool:
    """The token was accepted: the function answered, not the gateway (HTTP API ``{"message": ...}``,
    REST API ``{"Message": ...}``) nor /mcp with its challenge."""
    if response.status_code >= 500 or "www-authenticate" in response.headers:
        return False
    return not {"message", "Message"} & set(response.json())


def run_tool(module: str, stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=stack.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256", "ES256"])
def test_better_auth_style_token_reaches_the_function(
    auth_stack: RunningStack, world: World, algorithm: str
) -> None:
    response = call(auth_stack, bearer(world.keys[algorithm].sign(claims(f"user-{algorithm}"))))

    assert let_through(response), response.text


def test_a_session_token_reaches_chatkit_and_no_other_function(
    auth_stack: RunningStack, world: World
) -> None:
    token = bearer(session_token("alice", world.session_key))

    assert let_through(call(auth_stack, token, "chatkit"))
    assert call(auth_stack, token, "gateway").json() == {"message": "Forbidden"}
    assert "chat session" in call(auth_stack, token, "mcp").headers["www-authenticate"]


# Every HTTP API route that takes a token: a session token is refused on each, by the authorizer
# (403) or by McpFunction (401), and changes nothing.
TOKEN_ROUTES = sorted(
    (route.method, route.path.replace("{thread_id}", "thr_x"))
    for route in Template.load().routes()
    if route.api == "http" and (route.authorized or (route.path == "/mcp" and route.method == "POST"))
)


@pytest.mark.parametrize(("method", "path"), TOKEN_ROUTES, ids=[f"{m} {p}" for m, p in TOKEN_ROUTES])
def test_a_session_token_is_refused_on_every_other_route(
    auth_stack: RunningStack, world: World, method: str, path: str
) -> None:
    chat = Chat(
        auth_stack.url,
        {
            "erin": world.keys["EdDSA"].sign(claims("erin")),
            "session": session_token("erin", world.session_key),
        },
    )
    assert chat.mcp("add_task", {"title": "Kept"}, "erin").status_code == 200

    if path == "/mcp":
        response = chat.mcp("add_task", {"title": "Not kept"}, "session")
        assert response.status_code == 401 and 'error="invalid_token"' in response.headers["www-authenticate"]
    else:
        response = httpx.request(
            method, f"{auth_stack.url}{path}", headers=chat.headers("session", {}), timeout=30
        )
        assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert {task["title"] for task in chat.list_tasks("erin")} == {"Kept"}


def test_an_expired_session_token_is_refused_on_chatkit_though_the_gateway_cached_it(
    auth_stack: RunningStack, world: World
) -> None:
    # ChatKitFunction warm first: a cold start on a busy machine can outlast a short token.
    assert let_through(call(auth_stack, bearer(world.keys["EdDSA"].sign(claims("alice"))), "chatkit"))
    minted = mint_session_token("alice", world.session_key, 3)
    assert let_through(call(auth_stack, bearer(minted.token), "chatkit"))

    time.sleep(max(0.0, minted.expires_at - time.time()) + 0.5)
    response = call(auth_stack, bearer(minted.token), "chatkit")

    # The gateway answers from its 60 s cache; ChatKitFunction reads the exp it was given.
    assert response.status_code == 401
    assert response.json()["detail"].startswith("The chat session expired")
    assert auth_stack.wait_for_log("POST /chatkit 401 ChatKitFunction auth=cached:allowed")


def test_make_token_prints_only_a_token_the_stack_accepts(auth_stack: RunningStack) -> None:
    done = run_tool("local.emulator.token", auth_stack, "alice")

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and token.count(".") == 2
    assert let_through(call(auth_stack, bearer(token)))
    assert auth_stack.wait_for_log("auth=called:allowed")


def test_make_token_and_make_rotate_say_so_when_no_stack_runs(tmp_path: Any) -> None:
    environment = {"PATH": "/usr/bin:/bin", "LOCAL_STATE_DIR": str(tmp_path)}
    for module, args in (("local.emulator.token", ["alice"]), ("local.emulator.rotate", [])):
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert done.stdout == ""
        assert "make dev" in done.stderr


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [(case, reason) for _, case, reason in REJECTIONS],
    ids=[name for name, _, _ in REJECTIONS],
)
def test_refused_token_is_refused_at_both_doors(
    auth_stack: RunningStack, world: World, case: Case, expected_reason: str, route: str
) -> None:
    authorization = case(world)
    if expected_reason == "bad_signature" and case.__name__ == "older_than_previous":
        # A warm verifier refuses a key two rotations old once it has read the newer version
        # (else within its 60 s cache): a token signed with the newest key makes it read it. The
        # authorizer reads it on /chatkit; McpFunction checks it too before refusing a session token.
        time.sleep(KEY_REFRESH_PAUSE)
        primed = call(
            auth_stack,
            bearer(session_token("alice", world.session_key)),
            "mcp" if route == "mcp" else "chatkit",
        )
        assert let_through(primed) or route == "mcp"

    response = call(auth_stack, authorization, route)

    if route == "gateway":
        expected = 401 if not authorization else 403
        assert response.status_code == expected, response.text
        assert response.json() == {"message": "Unauthorized" if expected == 401 else "Forbidden"}
    elif route == "chatkit":
        expected = 401 if not authorization else 403
        assert response.status_code == expected, response.text
        assert ("message" if expected == 401 else "Message") in response.json()
    else:
        status, error = MCP_REFUSALS.get(expected_reason, (401, "invalid_token"))
        assert response.status_code == status, response.text
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer")
        assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
        assert response.json()["error"]["code"] == -32600
    assert "Traceback" not in auth_stack.log()


def test_make_rotate_keeps_earlier_session_tokens_for_one_rotation(
    auth_stack: RunningStack, world: World
) -> None:
    # Distinct tokens, so the gateway's per-header verdict cache never answers for the authorizer.
    before = [session_token("alice", world.session_key) for _ in range(3)]
    assert let_through(call(auth_stack, bearer(before[0]), "chatkit"))

    first = run_tool("local.emulator.rotate", auth_stack)
    assert first.returncode == 0, first.stderr
    assert "TokenSigningSecret rotated" in first.stderr
    time.sleep(KEY_REFRESH_PAUSE)
    assert let_through(call(auth_stack, bearer(session_token("alice", world.session_key)), "chatkit")), (
        "the new key passes at once"
    )
    assert let_through(call(auth_stack, bearer(before[1]), "chatkit")), (
        "minted before one rotation: still good"
    )

    second = run_tool("local.emulator.rotate", auth_stack)
    assert second.returncode == 0, second.stderr
    time.sleep(KEY_REFRESH_PAUSE)
    assert let_through(call(auth_stack, bearer(session_token("alice", world.session_key)), "chatkit"))
    refused = call(auth_stack, bearer(before[2]), "chatkit")
    assert refused.status_code == 403 and "Message" in refused.json(), "minted before two rotations: refused"


def test_make_invoke_honors_the_jwt_settings(
    jwks_server: JwksServer, keys: dict[str, SigningKey], tmp_path: Any
) -> None:
    event = (ROOT / "events" / "authorizer" / "valid.json").read_text()
    path = tmp_path / "valid.json"
    path.write_text(event.replace("${TOKEN}", keys["EdDSA"].sign(claims("alice"))))
    environment = {
        "PATH": "/usr/bin:/bin",
        "LOCAL_STATE_DIR": str(tmp_path),
        "JWT_JWKS_URL": jwks_server.url,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
    }

    done = subprocess.run(
        [sys.executable, "-m", "local.emulator.invoke", "AuthorizerFunction", str(path)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "isAuthorized": True,
        "context": {"user_id": "alice", "token_use": "user"},
    }
