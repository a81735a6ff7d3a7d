"""Every fault class through `make dev`: the model failing, AWS failing, the auth server failing.

The stack runs against its own moto behind a proxy that fails on demand
(tests/support/aws_faults.py, via AWS_ENDPOINT_URL), a Responses stand-in that fails on demand
(local/standins/openai.py) and a JWKS server that can go down. Nothing in the code under test
knows: the faults are on the wire.

What a user must see: a 503 ``{"detail"}`` with Retry-After from every route while DynamoDB or
Secrets Manager is down, a ChatKit error event when a stream is already under way, nothing
half-stored, the next turn working once the fault is gone, and valid tokens accepted while the
authorizer's key sources are down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from chatkit_backend.auth.tokens import mint_session_token

from local.emulator.stack import LocalAws
from local.standins.jwks import JwksServer, SigningKey, new_key, serve_jwks
from local.standins.openai import FakeResponses, Garbled, cut, fail, fake_responses, hang, text
from local.template import REGION
from tests.support.auth import AUDIENCE, ISSUER, claims
from tests.support.aws_faults import FAULTS, Fault, FaultyAws, faulty_aws
from tests.support.chat import Chat, user_message, wait_for
from tests.support.local_stack import RunningStack, start_stack

pytestmark = pytest.mark.integration

# Short, so that a hanging model costs the test seconds, not the production 45 s per attempt.
OPENAI_TIMEOUT_SECONDS = 2
# The authorizer's secret cache keeps a value this long before it reads it again.
SECRET_CACHE_SECONDS = 60


@dataclass
class Faults:
    stack: RunningStack
    chat: Chat
    aws: FaultyAws
    moto: LocalAws
    model: FakeResponses
    jwks: JwksServer
    key: SigningKey
    session_keys_read_at: float

    def token(self, user: str, **extra: Any) -> str:
        return self.key.sign(claims(user, **extra))

    def session_token(self, user: str) -> str:
        signing_key = self.moto.client("secretsmanager").get_secret_value(
            SecretId=self.stack.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
        )["SecretString"]
        return mint_session_token(user, signing_key, 600).token

    def get(self, path: str, token: str) -> httpx.Response:
        return httpx.get(f"{self.stack.url}{path}", headers={"authorization": f"Bearer {token}"}, timeout=60)

    def chatkit_items(self) -> list[dict[str, Any]]:
        """ChatKitTable, read straight from moto (not through the failing proxy)."""
        table = self.stack.physical_id("ChatKitTable")
        return self.moto.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]


@pytest.fixture(scope="module")
def faults() -> Iterator[Faults]:
    key = new_key("EdDSA")
    moto = LocalAws.start(REGION)
    try:
        with (
            faulty_aws(moto.endpoint_url) as aws,
            fake_responses() as model,
            serve_jwks([key.public_jwk]) as jwks,
            start_stack(
                {
                    "AWS_ENDPOINT_URL": aws.url,
                    "OPENAI_BASE_URL": model.url,
                    "OPENAI_API_KEY": "sk-test-faults",
                    "CHATKIT_OPENAI_TIMEOUT_SECONDS": str(OPENAI_TIMEOUT_SECONDS),
                    "JWT_JWKS_URL": jwks.url,
                    "JWT_ISSUER": ISSUER,
                    "JWT_AUDIENCE": AUDIENCE,
                }
            ) as stack,
        ):
            chat = Chat(stack.url, {user: key.sign(claims(user, ttl=3600)) for user in ("alice", "bob")})
            world = Faults(stack, chat, aws, moto, model, jwks, key, 0.0)
            # The authorizer reads TokenSigningSecret on the first session token; the last test
            # comes back to it once that read is older than the cache's lifetime.
            chat.tokens["session"] = world.session_token("alice")
            assert chat.post({"type": "threads.list", "params": {}}, "session").status_code == 200
            world.session_keys_read_at = time.monotonic()
            yield world
    finally:
        moto.stop()


def assert_503(response: httpx.Response, service: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"].startswith("application/json")
    assert service in response.json()["detail"]


def ends_in_an_error(events: list[dict[str, Any]]) -> bool:
    """A ChatKit error event (retry allowed) ends the answer; ChatKit may still send the thread's new title after it."""
    kinds = [event["type"] for event in events]
    if "error" not in kinds:
        return False
    error = events[kinds.index("error")]
    return error["allow_retry"] is True and set(kinds[kinds.index("error") :]) <= {"error", "thread.updated"}


def answers(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["item"]["content"][0]["text"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]


# ---- the model (OpenAI Responses) ------------------------------------------------------------------

MODEL_FAULTS = {
    "500": fail(500),
    "429": fail(429, retry_after=0.2),
    "cut stream": [cut("Sure, here are your tasks and", pieces_sent=2)],
    "hang": hang(),
    # A 200 that is not an event stream (a proxy's page): the same error event, never a 500.
    "garbled answer": [Garbled(b"<html><body>502 Bad Gateway</body></html>", "text/html")],
}


@pytest.mark.parametrize("fault", MODEL_FAULTS)
def test_a_failing_model_ends_the_stream_with_an_error_and_the_next_turn_works(
    faults: Faults, fault: str
) -> None:
    faults.model.script(*MODEL_FAULTS[fault])
    events = faults.chat.events(
        {"type": "threads.create", "params": {"input": user_message("What is on my list?")}}
    )
    assert ends_in_an_error(events), events
    thread_id = events[0]["thread"]["id"]
    # The user's message is stored once; no half answer is stored as if it were whole.
    assert [item["type"] for item in faults.chat.items(thread_id)] == ["user_message"]

    faults.model.script(text("Your list is empty.", pieces=1, pause=0))
    again = faults.chat.events(
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_message("Again?")},
        }
    )
    assert answers(again) == ["Your list is empty."]
    assert [item["type"] for item in faults.chat.items(thread_id)] == [
        "user_message",
        "user_message",
        "assistant_message",
    ]


# ---- Secrets Manager -------------------------------------------------------------------------------


def test_secrets_manager_down_makes_a_cold_session_route_answer_503(faults: Faults) -> None:
    with faults.aws.outage("secretsmanager", "error"):
        response = httpx.post(
            f"{faults.stack.url}/api/chatkit/session",
            json={},
            headers={"authorization": f"Bearer {faults.chat.tokens['alice']}"},
            timeout=60,
        )
    assert_503(response, "Secrets Manager")


# ---- DynamoDB --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_dynamodb_down_answers_503_on_every_route_and_stores_nothing(faults: Faults, fault: Fault) -> None:
    before = faults.chatkit_items()
    calls = len(faults.model.requests)
    with faults.aws.outage("dynamodb", fault):
        assert_503(faults.get("/api/chatkit/threads", faults.chat.tokens["alice"]), "DynamoDB")
        assert_503(faults.chat.post({"type": "threads.list", "params": {}}), "DynamoDB")
        assert_503(
            faults.chat.post({"type": "threads.create", "params": {"input": user_message("Add buy milk")}}),
            "DynamoDB",
        )
        tool = faults.chat.mcp("add_task", {"title": "Buy milk"})
        assert tool.status_code == 200 and tool.json()["result"]["isError"] is True
        assert (
            "call list_tasks to see whether the change was made"
            in tool.json()["result"]["content"][0]["text"]
        )
    assert faults.chatkit_items() == before and len(faults.model.requests) == calls
    # Back at once when DynamoDB is.
    assert faults.get("/api/chatkit/threads", faults.chat.tokens["alice"]).status_code == 200


@pytest.mark.parametrize("fault", FAULTS)
def test_dynamodb_failing_mid_answer_ends_the_stream_with_a_chatkit_error(
    faults: Faults, fault: Fault
) -> None:
    def outage_starts_while_the_model_answers(request: dict[str, Any]) -> Any:
        faults.aws.start("dynamodb", fault)
        return text("Added buy milk.", pieces=2, pause=0)

    faults.model.script(outage_starts_while_the_model_answers)
    try:
        events = faults.chat.events(
            {"type": "threads.create", "params": {"input": user_message("Add buy milk")}}
        )
    finally:
        faults.aws.stop("dynamodb")
    assert ends_in_an_error(events), events
    assert [item["type"] for item in faults.chat.items(events[0]["thread"]["id"])] == ["user_message"]


# ---- the authorizer's key sources ----------------------------------------------------------------


def test_with_the_jwks_host_down_known_keys_keep_working_and_unknown_ones_are_refused_not_500(
    faults: Faults,
) -> None:
    faults.jwks.failing = True
    try:
        fresh = faults.token("alice", jti="while-the-jwks-is-down")  # a token the gateway has not cached
        assert faults.get("/api/chatkit/threads", fresh).status_code == 200
        stranger = new_key("EdDSA").sign(claims("alice"))  # an unknown kid: refused, not an error
        assert faults.get("/api/chatkit/threads", stranger).status_code == 403
    finally:
        faults.jwks.failing = False
    assert "auth=error" not in faults.stack.log()


def test_valid_tokens_keep_working_while_secrets_manager_is_down(faults: Faults) -> None:
    """Last in the module: by now the session keys the authorizer read are nearly a minute old,
    so the request below finds them expired, tries Secrets Manager, fails, and verifies with the
    copy."""
    remaining = faults.session_keys_read_at + SECRET_CACHE_SECONDS + 1 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    log_so_far = len(faults.stack.log())
    with faults.aws.outage("secretsmanager", "hang"):
        faults.chat.tokens["session-bob"] = faults.session_token("bob")  # one the gateway has not cached
        started = time.monotonic()
        reply = faults.chat.post({"type": "threads.list", "params": {}}, "session-bob")
        assert reply.status_code == 200, reply.text
        assert time.monotonic() - started < 5  # one short attempt, not the authorizer's whole timeout
        forged = claims("bob", issuer="chatkit-backend", audience="chatkit-backend:chatkit")
        faults.chat.tokens["forged"] = jwt.encode(
            forged, "not-the-signing-key-" + "x" * 32, algorithm="HS256"
        )
        # The REST API's answer to the authorizer's Deny.
        assert faults.chat.post({"type": "threads.list", "params": {}}, "forged").status_code == 403
    # The verifier tried Secrets Manager, failed, said so once, and verified with its cached keys.
    logged = wait_for(
        lambda: (
            "Secrets Manager read failed" in faults.stack.log()[log_so_far:]
            and faults.stack.log()[log_so_far:]
        ),
        timeout=5,
    )
    assert '"serving_cached":true' in logged and logged.count("Secrets Manager read failed") == 1
