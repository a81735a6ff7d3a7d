"""AuthorizerFunction against moto's Secrets Manager and a JWKS served on 127.0.0.1.

Every key and token is made here, at test time. Each rejection the issue lists is its own case.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from chatkit_backend.auth.tokens import mint_session_token

from local.standins.jwks import JwksServer, SigningKey, new_key
from tests.support.auth import (
    authorizer,
    captured_logs,
    claims,
    http_api_event,
    random_secret,
    rest_api_event,
    signing_secrets,
)
from tests.support.auth_cases import REJECTIONS, Case, World, bearer, session_token


@pytest.fixture
def world(
    aws: Any, monkeypatch: pytest.MonkeyPatch, keys: dict[str, SigningKey], jwks_server: JwksServer
) -> World:
    jwks_server.keys = [key.public_jwk for key in keys.values()]
    jwks_server.requests = 0
    return World(signing_secrets(aws), jwks_server, keys, monkeypatch)


def decide(handler: Any, authorization: str | None) -> dict[str, Any]:
    return handler.handler(http_api_event(authorization), None)


def allowed_on_chatkit(handler: Any, authorization: str) -> bool:
    """Whether the REST API's authorizer lets the request through to POST /chatkit."""
    answer = handler.handler(rest_api_event(authorization), None)
    return answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"


# ---- accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256", "ES256"])
def test_user_token_from_the_jwks_passes_with_its_subject(world: World, algorithm: str) -> None:
    token = world.keys[algorithm].sign(claims("alice"))

    answer = decide(world.handler(), bearer(token))

    assert answer == {"isAuthorized": True, "context": {"user_id": "alice", "token_use": "user"}}


def test_shared_secret_user_token_passes_with_issuer_and_audience_when_they_are_set(world: World) -> None:
    token = jwt.encode(claims("bob"), world.user_secret, algorithm="HS256")

    assert decide(world.handler(), bearer(token))["context"] == {"user_id": "bob", "token_use": "user"}


def test_shared_secret_user_token_needs_no_issuer_or_audience_when_none_is_set(world: World) -> None:
    token = jwt.encode(claims("bob", issuer=None, audience=None), world.user_secret, algorithm="HS256")

    handler = world.handler(JWT_JWKS_URL="", JWT_ISSUER="", JWT_AUDIENCE="")

    assert decide(handler, bearer(token))["context"] == {"user_id": "bob", "token_use": "user"}


def test_replacing_the_shared_user_secret_retires_the_old_one_at_once(world: World) -> None:
    old_token = jwt.encode(claims("bob"), world.user_secret, algorithm="HS256")
    world.stack.client.put_secret_value(
        SecretId=world.stack.user_token_secret_arn, SecretString=random_secret()
    )
    new_token = jwt.encode(claims("bob"), world.user_secret, algorithm="HS256")
    handler = world.handler()

    assert decide(handler, bearer(new_token))["isAuthorized"] is True
    assert decide(handler, bearer(old_token)) == {"isAuthorized": False}


def test_a_key_two_rotations_old_is_refused_when_the_cache_expires(world: World) -> None:
    handler = world.handler()
    old = session_token("carol", world.session_key)
    assert allowed_on_chatkit(handler, bearer(old))
    world.rotate_session_key()
    world.rotate_session_key()

    handler.service.verifier.session_keys._cache.max_age = 0  # what 60 s later looks like to the cache

    assert not allowed_on_chatkit(handler, bearer(old))


def test_a_session_token_passes_on_chatkit_with_its_expiry(world: World) -> None:
    minted = mint_session_token("carol", world.session_key, 300)

    answer = world.handler().handler(rest_api_event(bearer(minted.token)), None)

    assert answer["principalId"] == "carol"
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    # REST API passes context values on as strings; ChatKitFunction refuses the token after it.
    assert answer["context"] == {
        "user_id": "carol",
        "token_use": "session",
        "expires_at": str(minted.expires_at),
    }


@pytest.mark.parametrize(
    "route_key",
    [
        "POST /api/chatkit/session",
        "GET /api/chatkit/threads",
        "PUT /api/chatkit/threads/{thread_id}",
        "DELETE /api/chatkit/threads/{thread_id}",
        "GET /api/me/export",
        "DELETE /api/me",
        "POST /mcp",
    ],
)
def test_a_session_token_is_denied_on_every_http_api_route(world: World, route_key: str) -> None:
    token = session_token("carol", world.session_key)

    with captured_logs() as logs:
        answer = world.handler().handler(http_api_event(bearer(token), route_key=route_key), None)

    assert answer == {"isAuthorized": False}
    assert [r["reason"] for r in logs.records() if r.get("auth") == "deny"] == [
        "session_token_not_for_this_api"
    ]


def test_a_session_token_minted_before_a_rotation_still_passes_after_it(world: World) -> None:
    token = session_token("carol", world.session_key)
    handler = world.handler()
    assert allowed_on_chatkit(handler, bearer(token))

    world.rotate_session_key()
    handler.service.verifier.session_keys._cache.clear()

    assert allowed_on_chatkit(handler, bearer(token))
    assert allowed_on_chatkit(world.handler(), bearer(token))


def test_token_signed_with_a_key_newer_than_the_cached_ones_passes_at_once(world: World) -> None:
    handler = world.handler()
    assert allowed_on_chatkit(handler, bearer(session_token("carol", world.session_key)))

    world.rotate_session_key()
    fresh = session_token("carol", world.session_key)

    assert allowed_on_chatkit(handler, bearer(fresh))


def test_a_key_two_rotations_old_is_refused_once_the_newer_key_was_read(world: World) -> None:
    handler = world.handler()
    old = session_token("carol", world.session_key)
    assert allowed_on_chatkit(handler, bearer(old))

    world.rotate_session_key()
    world.rotate_session_key()
    newest = session_token("carol", world.session_key)
    assert allowed_on_chatkit(handler, bearer(newest))

    assert not allowed_on_chatkit(handler, bearer(old))


def test_token_without_kid_passes_when_the_jwks_has_one_key_of_its_algorithm(world: World) -> None:
    token = world.keys["EdDSA"].sign(claims("dave"), kid=None)

    assert decide(world.handler(), bearer(token))["context"]["user_id"] == "dave"


def test_rest_token_event_gets_an_allow_policy_for_the_stage_with_the_context(world: World) -> None:
    token = world.keys["EdDSA"].sign(claims("erin"))
    event = {
        "type": "TOKEN",
        "authorizationToken": bearer(token),
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/api/chatkit/session",
    }

    answer = world.handler().handler(event, None)

    assert answer == {
        "principalId": "erin",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*",
                }
            ],
        },
        "context": {"user_id": "erin", "token_use": "user"},
    }


def test_rest_request_event_reads_the_header_whatever_its_case(world: World) -> None:
    token = jwt.encode(claims("frank"), world.user_secret, algorithm="HS256")
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/chatkit",
        "headers": {"aUtHoRiZaTiOn": bearer(token)},
        "requestContext": {"requestId": "r-2"},
    }

    answer = world.handler().handler(event, None)

    assert answer["principalId"] == "frank"
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert answer["context"] == {"user_id": "frank", "token_use": "user"}


def test_rest_event_with_a_bad_token_gets_a_deny_policy(world: World) -> None:
    event = {
        "type": "TOKEN",
        "authorizationToken": "Bearer not-a-jwt",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/api/chatkit/threads",
    }

    answer = world.handler().handler(event, None)

    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "context" not in answer


def test_jwks_is_fetched_once_per_container(world: World) -> None:
    handler = world.handler()
    assert world.jwks.requests == 0, "nothing is fetched before a token needs it"

    for algorithm in ("EdDSA", "RS256", "ES256", "EdDSA"):
        assert decide(handler, bearer(world.keys[algorithm].sign(claims())))["isAuthorized"] is True

    assert world.jwks.requests == 1


def test_unknown_kid_refetches_the_jwks_at_most_once_a_minute(world: World) -> None:
    handler = world.handler()
    clock = [1000.0]
    handler.service.verifier.jwks._clock = lambda: clock[0]
    assert decide(handler, bearer(world.keys["EdDSA"].sign(claims())))["isAuthorized"] is True
    rotated = new_key("EdDSA")
    world.jwks.keys.append(rotated.public_jwk)

    clock[0] += 30
    for _ in range(5):
        assert decide(handler, bearer(rotated.sign(claims())))["isAuthorized"] is False
    assert world.jwks.requests == 1, "no refresh within a minute of the last fetch"

    clock[0] += 31
    assert decide(handler, bearer(rotated.sign(claims())))["isAuthorized"] is True
    assert decide(handler, bearer(new_key("EdDSA").sign(claims())))["isAuthorized"] is False
    assert world.jwks.requests == 2


# ---- rejected ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "expected_reason"),
    [(case, reason) for _, case, reason in REJECTIONS],
    ids=[name for name, _, _ in REJECTIONS],
)
def test_rejected(world: World, case: Case, expected_reason: str) -> None:
    authorization = case(world)
    handler = world.handler()
    before = {
        arn: world.stack.client.describe_secret(SecretId=arn)["VersionIdsToStages"]
        for arn in (world.stack.token_signing_secret_arn, world.stack.user_token_secret_arn)
    }

    with captured_logs() as logs:
        answer = decide(handler, authorization)

    assert answer == {"isAuthorized": False}
    rejections = [record for record in logs.records() if record.get("auth") == "deny"]
    assert [record["reason"] for record in rejections] == [expected_reason]
    token = (authorization or "").split(" ")[-1]
    if len(token) > 8:
        assert token not in logs.text
        for segment in token.split("."):
            assert len(segment) < 8 or segment not in logs.text
    after = {
        arn: world.stack.client.describe_secret(SecretId=arn)["VersionIdsToStages"]
        for arn in (world.stack.token_signing_secret_arn, world.stack.user_token_secret_arn)
    }
    assert after == before, "a rejected token changes nothing"


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        [],
        "Bearer x",
        {"headers": None},
        {"headers": {"authorization": ["Bearer", "x"]}},
        {"version": "2.0"},
    ],
    ids=["none", "empty", "list", "string", "null-headers", "list-header", "no-headers"],
)
def test_malformed_events_are_refused_without_raising(world: World, event: Any) -> None:
    assert world.handler().handler(event, None) == {"isAuthorized": False}


def test_asymmetric_tokens_are_refused_when_jwks_has_no_issuer_or_audience(world: World) -> None:
    # The template's Rules refuse this configuration before a deploy; the function still guards
    # against an environment edited by hand afterwards.
    env = {
        **world.stack.env(
            JWT_JWKS_URL=world.jwks.url, JWT_ISSUER="https://app.example", JWT_AUDIENCE="https://app.example"
        )
    }
    env.update(JWT_ISSUER="", JWT_AUDIENCE="")
    with captured_logs() as logs:
        handler = authorizer(world.monkeypatch, env)
        answer = decide(handler, bearer(world.keys["EdDSA"].sign(claims())))

    assert answer == {"isAuthorized": False}
    assert world.jwks.requests == 0
    assert "JWT_ISSUER and JWT_AUDIENCE are required" in logs.text
    assert allowed_on_chatkit(handler, bearer(session_token("u", world.session_key, 60)))


def test_unreachable_jwks_fails_loudly_instead_of_caching_a_deny(world: World) -> None:
    handler = world.handler(JWT_JWKS_URL="http://127.0.0.1:9/api/auth/jwks")

    with captured_logs() as logs, pytest.raises(Exception, match="JWKS"):
        decide(handler, bearer(world.keys["EdDSA"].sign(claims())))

    assert any(record.get("auth") == "error" for record in logs.records())
    assert allowed_on_chatkit(handler, bearer(session_token("u", world.session_key, 60)))
