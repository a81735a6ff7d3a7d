"""POST /api/chatkit/session: SessionFunction in-process against moto.

A session is a client_secret (a session token the authorizer verifies), its expiry, the URL of
the chat and the user's newest thread. What the tests read back is what a frontend receives.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from chatkit.types import ThreadMetadata
from chatkit_backend.auth.identity import USER_TOKEN_ONLY
from chatkit_backend.auth.tokens import ISSUER, SESSION_AUDIENCE, SigningKeys, TokenVerifier
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.dynamodb import DynamoDBStore

from local.emulator.events import http_event
from tests.conftest import AwsResources

ROUTE = "/api/chatkit/session"


@pytest.fixture
def signing_key(aws: AwsResources) -> str:
    return aws.client("secretsmanager").get_secret_value(
        SecretId=aws.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]


@pytest.fixture
def create(invoke):
    """``create(body=None, user_id="user-1", **env)``: SessionFunction's answer to one POST."""

    def run(
        body: Any = None,
        *,
        user_id: str | None = "user-1",
        token_use: str = "user",
        expires_at: int | None = None,
        **env: str,
    ) -> dict[str, Any]:
        event = http_event(
            "POST", ROUTE, body=body, user_id=user_id, token_use=token_use, expires_at=expires_at
        )
        return invoke("SessionFunction", event, env or None)

    return run


def body_of(result: dict[str, Any]) -> Any:
    return json.loads(result["body"]) if result.get("body") else None


def store_thread(aws: AwsResources, user_id: str, thread_id: str, created_at: datetime) -> None:
    """A thread as the ChatKit server stores it."""
    store = DynamoDBStore(aws.physical_id("ChatKitTable"))
    metadata = ThreadMetadata(id=thread_id, title=thread_id, created_at=created_at)
    asyncio.run(store.save_thread(metadata, RequestContext(user_id=user_id)))


def test_a_session_is_a_client_secret_for_the_chat_with_its_expiry_url_and_thread(
    create, aws: AwsResources, signing_key: str
) -> None:
    before = int(time.time())

    result = create()

    assert result["statusCode"] == 201
    assert result["headers"]["cache-control"] == "no-store"
    answer = body_of(result)
    assert set(answer) == {"client_secret", "expires_at", "chatkit_url", "thread_id"}
    claims = jwt.decode(
        answer["client_secret"], signing_key, algorithms=["HS256"], audience=SESSION_AUDIENCE, issuer=ISSUER
    )
    assert claims["sub"] == "user-1"
    assert claims["exp"] == answer["expires_at"]
    assert claims["exp"] - claims["iat"] == 600 and claims["nbf"] == claims["iat"]
    assert before <= claims["iat"] <= int(time.time())
    assert len(claims["jti"]) == 32
    # The template's URL of the REST API's /chatkit: the ChatKitUrl output.
    expected_url = aws.function_env("SessionFunction")["CHATKIT_URL"]
    assert answer["chatkit_url"] == expected_url
    assert expected_url.startswith("https://") and expected_url.endswith("/dev/chatkit")
    assert answer["thread_id"] is None


def test_the_client_secret_is_a_session_token_to_the_authorizer_and_nothing_else(
    create, signing_key: str
) -> None:
    token = body_of(create())["client_secret"]
    secrets = _InHand(signing_key)
    verifier = TokenVerifier(session_keys=SigningKeys("signing", secrets), user_keys=None, jwks=None)

    verified = verifier.verify(token)

    assert (verified.user_id, verified.token_use, verified.scopes) == ("user-1", "session", None)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, signing_key + "x", algorithms=["HS256"], audience=SESSION_AUDIENCE)
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, signing_key, algorithms=["HS256"], audience="https://app.example")


class _InHand:
    """The signing key as the verifier's key source (AWSCURRENT only)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, secret_id: str, stage: str = "AWSCURRENT", *, force: bool = False) -> Any:
        from chatkit_backend.aws.secrets import SecretVersion

        return SecretVersion(version_id="v1", value=self.value) if stage == "AWSCURRENT" else None


def test_thread_id_is_the_users_newest_thread_and_never_another_users(create, aws: AwsResources) -> None:
    store_thread(aws, "user-1", "thr_older", datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    store_thread(aws, "user-1", "cthr_imported", datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    store_thread(aws, "user-1", "thr_newest", datetime(2026, 12, 2, 9, 0, tzinfo=UTC))
    store_thread(aws, "user-2", "thr_someone_elses", datetime(2026, 12, 3, 9, 0, tzinfo=UTC))

    assert body_of(create())["thread_id"] == "thr_newest"
    assert body_of(create(user_id="user-2"))["thread_id"] == "thr_someone_elses"
    assert body_of(create(user_id="user-3"))["thread_id"] is None


def test_calling_again_is_the_refresh(create, signing_key: str) -> None:
    first, second = body_of(create()), body_of(create({}))

    assert first["client_secret"] != second["client_secret"]
    assert second["expires_at"] >= first["expires_at"]
    decoded = [
        jwt.decode(answer["client_secret"], signing_key, algorithms=["HS256"], audience=SESSION_AUDIENCE)
        for answer in (first, second)
    ]
    assert decoded[0]["jti"] != decoded[1]["jti"]
    assert {claims["sub"] for claims in decoded} == {"user-1"}


def test_each_user_gets_a_token_of_their_own(create, signing_key: str) -> None:
    for user in ("alice", "bob"):
        token = body_of(create(user_id=user))["client_secret"]
        assert jwt.decode(token, signing_key, algorithms=["HS256"], audience=SESSION_AUDIENCE)["sub"] == user


def test_the_lifetime_is_the_template_parameter(create, signing_key: str) -> None:
    answer = body_of(create(ChatKitSessionSeconds="45"))

    claims = jwt.decode(answer["client_secret"], signing_key, algorithms=["HS256"], audience=SESSION_AUDIENCE)
    assert claims["exp"] - claims["iat"] == 45 == answer["expires_at"] - claims["iat"]


def test_without_an_identity_the_answer_is_401(create) -> None:
    result = create(user_id=None)

    assert result["statusCode"] == 401
    assert body_of(result) == {"detail": "Authentication required. Please log in."}


@pytest.mark.parametrize("body", [None, {}, "not json"])
def test_a_session_token_cannot_open_a_session(create, body: Any) -> None:
    result = create(body, token_use="session", expires_at=int(time.time()) + 300)

    assert (result["statusCode"], body_of(result)) == (403, {"detail": USER_TOKEN_ONLY})


def test_identity_is_checked_before_the_body(create) -> None:
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
        '"thr_abc"',
        "null",
        {"thread_id": "thr_abc"},
        {"user": "someone-else"},
        {"expires_after": 3600},
    ],
    ids=lambda b: (b if isinstance(b, str) else json.dumps(b))[:30],
)
def test_malformed_bodies_are_422(create, body: Any) -> None:
    result = create(body if isinstance(body, str) else json.dumps(body))

    assert result["statusCode"] == 422
    assert body_of(result)["detail"].startswith("The request is not valid:")
    assert "client_secret" not in body_of(result)


def test_an_empty_body_and_an_empty_object_both_create_a_session(create) -> None:
    assert create(None)["statusCode"] == 201
    assert create({})["statusCode"] == 201
