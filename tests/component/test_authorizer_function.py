"""AuthorizerFunction against moto's Secrets Manager and a JWKS served on 127.0.0.1.

Every key and token is made here, at test time. Each rejection the issue lists is its own case.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from chatkit_backend.tokens import MCP_AUDIENCE, MCP_ISSUER, mint_mcp_token
from tests.authsupport import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    SecretsStack,
    SigningKey,
    authorizer,
    b64url,
    captured_logs,
    claims,
    hs256_raw,
    http_api_event,
    new_key,
    random_secret,
    signing_secrets,
    serve_jwks,
    unsigned,
)


@dataclass
class World:
    stack: SecretsStack
    jwks: JwksServer
    keys: dict[str, SigningKey]
    monkeypatch: Any

    def handler(self, **env: str) -> Any:
        settings = {"JWT_JWKS_URL": self.jwks.url, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, **env}
        return authorizer(self.monkeypatch, self.stack.env(**settings))

    @property
    def mcp_key(self) -> str:
        return self.stack.value(self.stack.token_signing_secret_arn)

    @property
    def user_secret(self) -> str:
        return self.stack.value(self.stack.user_token_secret_arn)

    def rotate_mcp_key(self) -> None:
        """What a finished rotation leaves: a new AWSCURRENT, the old one as AWSPREVIOUS."""
        self.stack.client.put_secret_value(SecretId=self.stack.token_signing_secret_arn, SecretString=random_secret())


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    """The frontend's signing keys, generated once for this module (RSA generation is slow)."""
    return {algorithm: new_key(algorithm) for algorithm in ("EdDSA", "RS256", "ES256")}


@pytest.fixture(scope="module")
def jwks_server(keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    with serve_jwks([key.public_jwk for key in keys.values()]) as server:
        yield server


@pytest.fixture
def world(aws: Any, monkeypatch: pytest.MonkeyPatch, keys: dict[str, SigningKey], jwks_server: JwksServer) -> World:
    jwks_server.keys = [key.public_jwk for key in keys.values()]
    jwks_server.requests = 0
    return World(signing_secrets(aws), jwks_server, keys, monkeypatch)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def decide(handler: Any, authorization: str | None) -> dict[str, Any]:
    return handler.handler(http_api_event(authorization), None)


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


def test_mcp_token_passes_as_mcp(world: World) -> None:
    token = mint_mcp_token("carol", world.mcp_key, 300)

    assert decide(world.handler(), bearer(token)) == {
        "isAuthorized": True,
        "context": {"user_id": "carol", "token_use": "mcp"},
    }


def test_mcp_token_minted_before_a_rotation_still_passes_after_it(world: World) -> None:
    token = mint_mcp_token("carol", world.mcp_key, 300)
    handler = world.handler()
    assert decide(handler, bearer(token))["isAuthorized"] is True

    world.rotate_mcp_key()
    handler.verifier.mcp_keys._cache.clear()

    assert decide(handler, bearer(token))["isAuthorized"] is True
    assert decide(world.handler(), bearer(token))["isAuthorized"] is True


def test_token_signed_with_a_key_newer_than_the_cached_ones_passes_at_once(world: World) -> None:
    handler = world.handler()
    assert decide(handler, bearer(mint_mcp_token("carol", world.mcp_key, 300)))["isAuthorized"] is True

    world.rotate_mcp_key()
    fresh = mint_mcp_token("carol", world.mcp_key, 300)

    assert decide(handler, bearer(fresh))["isAuthorized"] is True


def test_a_key_two_rotations_old_is_refused_once_the_newer_key_was_read(world: World) -> None:
    handler = world.handler()
    old = mint_mcp_token("carol", world.mcp_key, 300)
    assert decide(handler, bearer(old))["isAuthorized"] is True

    world.rotate_mcp_key()
    world.rotate_mcp_key()
    newest = mint_mcp_token("carol", world.mcp_key, 300)
    assert decide(handler, bearer(newest))["isAuthorized"] is True

    assert decide(handler, bearer(old)) == {"isAuthorized": False}


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
    token = mint_mcp_token("frank", world.mcp_key, 300)
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/mcp",
        "headers": {"Authorization": bearer(token)},
        "requestContext": {"requestId": "r-2"},
    }

    answer = world.handler().handler(event, None)

    assert answer["principalId"] == "frank"
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert answer["context"] == {"user_id": "frank", "token_use": "mcp"}


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
    handler.verifier.jwks._clock = lambda: clock[0]
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


def tamper_payload(token: str) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(jwt.utils.base64url_decode(payload))
    body["sub"] = "mallory"
    return ".".join([header, b64url(json.dumps(body).encode()), signature])


def tamper_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(jwt.utils.base64url_decode(signature))
    raw[0] ^= 0x01
    return ".".join([header, payload, b64url(bytes(raw))])


def older_than_previous(world: World) -> str:
    token = mint_mcp_token("carol", world.mcp_key, 300)
    world.rotate_mcp_key()
    world.rotate_mcp_key()
    return bearer(token)


def oversize(world: World) -> str:
    return bearer(world.keys["EdDSA"].sign(claims(padding="x" * 8200)))


Case = Callable[[World], "str | None"]

REJECTIONS: list[tuple[str, Case, str]] = [
    ("missing header", lambda w: None, "missing_header"),
    ("empty header", lambda w: "", "missing_header"),
    ("scheme without token", lambda w: "Bearer", "malformed_header"),
    ("token with a space", lambda w: "Bearer abc def", "malformed_header"),
    ("basic scheme", lambda w: "Basic dXNlcjpwYXNz", "wrong_scheme"),
    ("valid jwt under another scheme", lambda w: "Token " + w.keys["EdDSA"].sign(claims()), "wrong_scheme"),
    ("bare jwt without scheme", lambda w: w.keys["EdDSA"].sign(claims()), "wrong_scheme"),
    ("not a jwt", lambda w: "Bearer not-a-jwt", "not_a_jwt"),
    ("two segments", lambda w: "Bearer abc.def", "not_a_jwt"),
    ("bad base64", lambda w: "Bearer @@@.###.$$$", "bad_encoding"),
    ("base64 of non-json", lambda w: f"Bearer {b64url(b'hello')}.{b64url(b'world')}.{b64url(b'sig')}", "bad_encoding"),
    ("alg none", lambda w: bearer(unsigned(claims())), "algorithm_not_allowed"),
    ("alg HS512", lambda w: bearer(jwt.encode(claims(), w.user_secret, algorithm="HS512")), "algorithm_not_allowed"),
    (
        "alg PS256 outside the allow-list",
        lambda w: bearer(jwt.encode(claims(), w.keys["RS256"].private, algorithm="PS256", headers={"kid": w.keys["RS256"].kid})),
        "algorithm_not_allowed",
    ),
    (
        "HS256 signed with the RSA public key as secret",
        lambda w: bearer(hs256_raw({"alg": "HS256", "kid": w.keys["RS256"].kid}, claims(), w.keys["RS256"].public_pem)),
        "bad_signature",
    ),
    (
        "HS256 signed with the EC public key as secret",
        lambda w: bearer(hs256_raw({"alg": "HS256", "kid": w.keys["ES256"].kid}, claims(), w.keys["ES256"].public_pem)),
        "bad_signature",
    ),
    (
        "RS256 header on an Ed25519 kid",
        lambda w: bearer(jwt.encode(claims(), w.keys["RS256"].private, algorithm="RS256", headers={"kid": w.keys["EdDSA"].kid})),
        "algorithm_mismatch",
    ),
    ("tampered payload (EdDSA)", lambda w: bearer(tamper_payload(w.keys["EdDSA"].sign(claims()))), "bad_signature"),
    ("tampered signature (EdDSA)", lambda w: bearer(tamper_signature(w.keys["EdDSA"].sign(claims()))), "bad_signature"),
    ("tampered payload (MCP)", lambda w: bearer(tamper_payload(mint_mcp_token("u", w.mcp_key, 300))), "bad_signature"),
    ("tampered signature (MCP)", lambda w: bearer(tamper_signature(mint_mcp_token("u", w.mcp_key, 300))), "bad_signature"),
    (
        "wrong key with a known kid",
        lambda w: bearer(jwt.encode(claims(), new_key("EdDSA").private, algorithm="EdDSA", headers={"kid": w.keys["EdDSA"].kid})),
        "bad_signature",
    ),
    ("wrong shared secret", lambda w: bearer(jwt.encode(claims(), random_secret(), algorithm="HS256")), "bad_signature"),
    ("wrong key for an MCP token", lambda w: bearer(mint_mcp_token("u", random_secret(), 300)), "bad_signature"),
    ("unknown kid", lambda w: bearer(new_key("EdDSA").sign(claims())), "unknown_kid"),
    ("expired", lambda w: bearer(w.keys["EdDSA"].sign(claims(ttl=-120))), "expired"),
    ("expired MCP token", lambda w: bearer(mint_mcp_token("u", w.mcp_key, 60, now=time.time() - 600)), "expired"),
    ("nbf in the future", lambda w: bearer(w.keys["EdDSA"].sign(claims(nbf=int(time.time()) + 600))), "not_yet_valid"),
    ("iat far in the future", lambda w: bearer(w.keys["ES256"].sign(claims(iat=int(time.time()) + 3600, ttl=7200))), "issued_in_future"),
    ("missing exp", lambda w: bearer(w.keys["EdDSA"].sign(claims(exp=None))), "missing_exp"),
    ("missing sub", lambda w: bearer(w.keys["EdDSA"].sign(claims(sub=None))), "missing_sub"),
    ("empty sub", lambda w: bearer(w.keys["EdDSA"].sign(claims(sub=""))), "invalid_subject"),
    ("numeric sub", lambda w: bearer(w.keys["EdDSA"].sign(claims(sub=42))), "invalid_claims"),
    ("exp not a number", lambda w: bearer(w.keys["EdDSA"].sign(claims(exp="tomorrow"))), "malformed"),
    ("wrong iss", lambda w: bearer(w.keys["EdDSA"].sign(claims(issuer="https://evil.example"))), "wrong_issuer"),
    ("missing iss", lambda w: bearer(w.keys["EdDSA"].sign(claims(issuer=None))), "missing_iss"),
    ("wrong aud", lambda w: bearer(w.keys["RS256"].sign(claims(audience="https://other.example"))), "wrong_audience"),
    ("missing aud", lambda w: bearer(w.keys["RS256"].sign(claims(audience=None))), "missing_aud"),
    ("shared-secret user token with a wrong aud", lambda w: bearer(jwt.encode(claims(audience="x"), w.user_secret, algorithm="HS256")), "wrong_audience"),
    (
        "MCP-key token carrying the user audience",
        lambda w: bearer(jwt.encode(claims(issuer=MCP_ISSUER), w.mcp_key, algorithm="HS256")),
        "bad_signature",
    ),
    (
        "user-secret token carrying the MCP audience",
        lambda w: bearer(jwt.encode(claims(issuer=MCP_ISSUER, audience=MCP_AUDIENCE), w.user_secret, algorithm="HS256")),
        "bad_signature",
    ),
    ("JWKS user token carrying the MCP audience", lambda w: bearer(w.keys["EdDSA"].sign(claims(audience=MCP_AUDIENCE))), "wrong_audience"),
    (
        "MCP token with a foreign issuer",
        lambda w: bearer(jwt.encode(claims(issuer="someone", audience=MCP_AUDIENCE), w.mcp_key, algorithm="HS256")),
        "wrong_issuer",
    ),
    ("signed with a secret older than AWSPREVIOUS", older_than_previous, "bad_signature"),
    ("oversize token", oversize, "oversize"),
]


@pytest.mark.parametrize(("case", "expected_reason"), [(case, reason) for _, case, reason in REJECTIONS], ids=[name for name, _, _ in REJECTIONS])
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
    [None, {}, [], "Bearer x", {"headers": None}, {"headers": {"authorization": ["Bearer", "x"]}}, {"version": "2.0"}],
    ids=["none", "empty", "list", "string", "null-headers", "list-header", "no-headers"],
)
def test_malformed_events_are_refused_without_raising(world: World, event: Any) -> None:
    assert world.handler().handler(event, None) == {"isAuthorized": False}


def test_asymmetric_tokens_are_refused_when_jwks_has_no_issuer_or_audience(world: World) -> None:
    with captured_logs() as logs:
        handler = world.handler(JWT_ISSUER="", JWT_AUDIENCE="")
        answer = decide(handler, bearer(world.keys["EdDSA"].sign(claims())))

    assert answer == {"isAuthorized": False}
    assert world.jwks.requests == 0
    assert "JWT_ISSUER and JWT_AUDIENCE are required" in logs.text
    assert decide(handler, bearer(mint_mcp_token("u", world.mcp_key, 60)))["isAuthorized"] is True


def test_unreachable_jwks_fails_loudly_instead_of_caching_a_deny(world: World) -> None:
    handler = world.handler(JWT_JWKS_URL="http://127.0.0.1:9/api/auth/jwks")

    with captured_logs() as logs, pytest.raises(Exception, match="JWKS"):
        decide(handler, bearer(world.keys["EdDSA"].sign(claims())))

    assert any(record.get("auth") == "error" for record in logs.records())
    assert decide(handler, bearer(mint_mcp_token("u", world.mcp_key, 60)))["isAuthorized"] is True
