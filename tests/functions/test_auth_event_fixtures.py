"""events/authorizer and events/rotation do what their names say.

The authorizer fixtures carry ``${TOKEN}`` where the bearer token goes (a token cannot be stored:
it would need a stored key, and it would expire); here it is replaced by a token of the fixture's
kind, signed with the template's UserTokenSecret as the running stack holds it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from chatkit_backend.auth.tokens import mint_session_token

from local.emulator.rotate import STEPS, begin_rotation
from local.emulator.token import mint_user_token
from local.template import ROOT

AUTHORIZER_EVENTS = ROOT / "events" / "authorizer"
ROTATION_EVENTS = ROOT / "events" / "rotation"

TokenFactory = Callable[[str], "str | None"]

EXPECTED: dict[str, tuple[TokenFactory, Any]] = {
    "valid.json": (
        lambda secret: mint_user_token(secret, "alice"),
        {"isAuthorized": True, "context": {"user_id": "alice", "token_use": "user"}},
    ),
    "expired.json": (lambda secret: mint_user_token(secret, "alice", ttl=-120), {"isAuthorized": False}),
    "wrong_audience.json": (
        lambda secret: mint_user_token(secret, "alice", audience="https://elsewhere.example"),
        {"isAuthorized": False},
    ),
    "missing_header.json": (lambda secret: None, {"isAuthorized": False}),
}


def load(path: Any, token: str | None) -> dict[str, Any]:
    text = path.read_text()
    return json.loads(text.replace("${TOKEN}", token) if token is not None else text)


def test_every_authorizer_fixture_has_an_expectation() -> None:
    assert {path.name for path in AUTHORIZER_EVENTS.glob("*.json")} == {
        *EXPECTED,
        "rest_token.json",
        "session_token_http.json",
        "session_token_rest.json",
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_authorizer_fixture(name: str, aws: Any, invoke: Any) -> None:
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=aws.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]
    make_token, expected = EXPECTED[name]

    assert invoke("AuthorizerFunction", load(AUTHORIZER_EVENTS / name, make_token(secret))) == expected


def test_rest_token_fixture_gets_an_allow_policy(aws: Any, invoke: Any) -> None:
    secret = aws.client("secretsmanager").get_secret_value(
        SecretId=aws.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]

    answer = invoke(
        "AuthorizerFunction", load(AUTHORIZER_EVENTS / "rest_token.json", mint_user_token(secret, "alice"))
    )

    assert answer["principalId"] == "alice"
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_rotation_fixtures_run_one_rotation_in_order(aws: Any, invoke: Any) -> None:
    events = {path.stem: json.loads(path.read_text()) for path in ROTATION_EVENTS.glob("*.json")}
    ordered = [events[name] for name in ("create_secret", "set_secret", "test_secret", "finish_secret")]
    assert [event["Step"] for event in ordered] == list(STEPS)
    secretsmanager = aws.client("secretsmanager")
    secret_id, token = ordered[0]["SecretId"], ordered[0]["ClientRequestToken"]
    old_key = secretsmanager.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
    # What Secrets Manager does before it calls the function: stage an empty version for the token.
    begin_rotation(
        secretsmanager, secret_id, "arn:aws:lambda:us-east-1:123456789012:function:RotationFunction", token
    )

    for event in ordered:
        invoke("RotationFunction", event)

    current = secretsmanager.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    assert current["VersionId"] == token
    assert (
        secretsmanager.get_secret_value(SecretId=secret_id, VersionStage="AWSPREVIOUS")["SecretString"]
        == old_key
    )
    assert jwt.decode(
        jwt.encode({"sub": "x"}, current["SecretString"], algorithm="HS256"),
        current["SecretString"],
        algorithms=["HS256"],
    )


def test_session_token_fixtures_pass_on_chatkit_only(aws: Any, invoke: Any) -> None:
    """A session token is allowed on the REST API (POST /chatkit) with its expiry, denied on the HTTP API."""
    key = aws.client("secretsmanager").get_secret_value(
        SecretId=aws.physical_id("TokenSigningSecret"), VersionStage="AWSCURRENT"
    )["SecretString"]
    session = mint_session_token("alice", key, 600)

    rest = invoke("AuthorizerFunction", load(AUTHORIZER_EVENTS / "session_token_rest.json", session.token))
    http = invoke("AuthorizerFunction", load(AUTHORIZER_EVENTS / "session_token_http.json", session.token))

    assert rest["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert rest["context"] == {
        "user_id": "alice",
        "token_use": "session",
        "expires_at": str(session.expires_at),
    }
    assert http == {"isAuthorized": False}
