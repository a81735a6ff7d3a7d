"""The verifier's OAuth path and the authorization server it trusts, with in-memory documents.

AuthorizationServer: metadata found where MCP clients look (RFC 8414 path insertion, then OIDC),
never another issuer's; failures are dependency failures, retried after a pause; introspection
answers cached by token hash, never past ``exp``. TokenVerifier: which tokens take the OAuth
path, and what it checks there.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from chatkit_backend.auth.authorization_server import AuthorizationServer, metadata_urls, secret_credentials
from chatkit_backend.auth.jwks import JwksCache, KeysUnavailable
from chatkit_backend.auth.tokens import TokenRejected, TokenVerifier, VerifiedToken, canonical_resource
from chatkit_backend.aws.secrets import SecretVersion

from local.standins.jwks import SigningKey, new_key

ISSUER = "https://app.example.test/api/auth"
RESOURCE = "https://api.example.test/mcp"
USER_AUDIENCE = "https://app.example.test"


@pytest.mark.parametrize(
    ("issuer", "urls"),
    [
        (
            "https://app.example.test/api/auth",
            [
                "https://app.example.test/.well-known/oauth-authorization-server/api/auth",
                "https://app.example.test/.well-known/openid-configuration/api/auth",
                "https://app.example.test/api/auth/.well-known/openid-configuration",
            ],
        ),
        (
            "https://auth.example.test",
            [
                "https://auth.example.test/.well-known/oauth-authorization-server",
                "https://auth.example.test/.well-known/openid-configuration",
            ],
        ),
        (
            "https://auth.example.test/",
            [
                "https://auth.example.test/.well-known/oauth-authorization-server",
                "https://auth.example.test/.well-known/openid-configuration",
            ],
        ),
    ],
)
def test_metadata_is_looked_for_where_mcp_clients_look(issuer: str, urls: list[str]) -> None:
    assert metadata_urls(issuer) == urls


class Documents:
    """Fetches answered from a dict by URL (a missing URL fails as a 404 would)."""

    def __init__(self, documents: dict[str, Any]) -> None:
        self.documents = documents
        self.fetched: list[str] = []

    def __call__(self, url: str) -> Any:
        self.fetched.append(url)
        if url not in self.documents:
            raise KeysUnavailable("authorization server metadata fetch failed: HTTPError")
        return self.documents[url]


def metadata(**extra: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "jwks_uri": f"{ISSUER}/jwks",
        "introspection_endpoint": f"{ISSUER}/oauth2/introspect",
        **extra,
    }


def test_oidc_discovery_is_the_fallback_and_another_issuers_document_is_skipped() -> None:
    urls = metadata_urls(ISSUER)
    fetch = Documents({urls[0]: {**metadata(), "issuer": "https://evil.example.test"}, urls[2]: metadata()})

    server = AuthorizationServer(ISSUER, fetch=fetch)

    assert server.metadata()["issuer"] == ISSUER
    assert fetch.fetched == urls
    server.metadata()
    assert len(fetch.fetched) == 3, "kept for the container's life"


def test_no_metadata_is_a_dependency_failure_retried_after_a_pause() -> None:
    clock = [0.0]
    fetch = Documents({})
    server = AuthorizationServer(ISSUER, fetch=fetch, clock=lambda: clock[0])

    with pytest.raises(KeysUnavailable):
        server.metadata()
    with pytest.raises(KeysUnavailable, match="moments ago"):
        server.metadata()
    assert len(fetch.fetched) == 3
    fetch.documents[metadata_urls(ISSUER)[0]] = metadata()
    clock[0] += 5
    assert server.metadata()["issuer"] == ISSUER


@pytest.mark.parametrize("issuer", ["http://auth.example.test/api/auth", "ftp://auth.example.test"])
def test_an_issuer_that_is_not_https_is_never_fetched(issuer: str) -> None:
    fetch = Documents({})
    with pytest.raises(KeysUnavailable, match="McpAuthorizationServer must be an https URL"):
        AuthorizationServer(issuer, fetch=fetch).metadata()
    assert fetch.fetched == []


def test_a_jwks_uri_that_is_not_https_is_refused() -> None:
    server = AuthorizationServer(
        ISSUER,
        fetch=Documents({metadata_urls(ISSUER)[0]: metadata(jwks_uri="http://evil.example.test/jwks")}),
    )
    with pytest.raises(KeysUnavailable, match="jwks_uri"):
        server.keys()


class Introspection:
    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, dict[str, str], dict[str, str]]] = []

    def __call__(self, url: str, form: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
        self.calls.append((url, form, headers))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def introspecting(post: Introspection, clock: list[float]) -> AuthorizationServer:
    return AuthorizationServer(
        ISSUER,
        credentials=lambda: ("rs client", "s3cret:/"),
        fetch=Documents({metadata_urls(ISSUER)[0]: metadata()}),
        post=post,
        clock=lambda: clock[0],
    )


def test_introspection_authenticates_with_basic_and_caches_for_a_minute() -> None:
    active = {"active": True, "sub": "alice", "aud": RESOURCE, "exp": time.time() + 3600}
    post, clock = Introspection(active), [0.0]
    server = introspecting(post, clock)

    assert server.introspect("opaque-1") == active
    assert server.introspect("opaque-1") == active
    clock[0] += 59
    server.introspect("opaque-1")
    assert len(post.calls) == 1
    clock[0] += 2
    server.introspect("opaque-1")
    assert len(post.calls) == 2
    url, form, headers = post.calls[0]
    assert (url, form) == (
        f"{ISSUER}/oauth2/introspect",
        {"token": "opaque-1", "token_type_hint": "access_token"},
    )
    # RFC 6749 section 2.3.1: client id and secret are form-encoded before they are joined.
    assert headers == {"authorization": "Basic cnMlMjBjbGllbnQ6czNjcmV0JTNBJTJG"}


def test_an_active_answer_is_never_kept_past_the_tokens_exp_and_inactive_ones_are_remembered() -> None:
    soon = {"active": True, "sub": "alice", "aud": RESOURCE, "exp": time.time() + 0.5}
    post, clock = Introspection(soon, {"active": False}), [0.0]
    server = introspecting(post, clock)

    server.introspect("short-lived")
    clock[0] += 1
    assert server.introspect("short-lived") is None
    assert server.introspect("short-lived") is None
    assert len(post.calls) == 2


@pytest.mark.parametrize("answer", [{"sub": "alice"}, {"active": "yes"}, ["active"]])
def test_an_introspection_answer_out_of_shape_is_a_dependency_failure(answer: Any) -> None:
    with pytest.raises(KeysUnavailable, match="out of shape"):
        introspecting(Introspection(answer), [0.0]).introspect("opaque")


class Secrets:
    def __init__(self, value: str) -> None:
        self.value = value

    def get(self, secret_id: str, stage: str = "AWSCURRENT", *, force: bool = False) -> SecretVersion:
        return SecretVersion("v1", self.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"client_id":"rs","client_secret":"s"}', ("rs", "s")),
        ('{"client_id":"","client_secret":""}', None),
        ('{"client_id":"rs"}', None),
        ("not json", None),
        ('["rs", "s"]', None),
    ],
)
def test_introspection_credentials_come_from_the_secret_or_stay_off(value: str, expected: Any) -> None:
    assert secret_credentials("arn:secret", Secrets(value))() == expected


# ---- the verifier's OAuth path ----------------------------------------------------------------


@pytest.fixture(scope="module")
def server_key() -> SigningKey:
    return new_key("EdDSA")


@pytest.fixture(scope="module")
def frontend_key() -> SigningKey:
    return new_key("ES256")


def verifier(
    server_key: SigningKey,
    frontend_key: SigningKey,
    *,
    user_issuer: str = "https://app.example.test",
    **kw: Any,
) -> TokenVerifier:
    def jwks_of(key: SigningKey) -> Any:
        return lambda url: JwksCache(url, fetch=lambda _: {"keys": [key.public_jwk]})

    server = AuthorizationServer(
        ISSUER, fetch=Documents({metadata_urls(ISSUER)[0]: metadata()}), jwks=jwks_of(server_key), **kw
    )
    return TokenVerifier(
        session_keys=None,
        user_keys=None,
        jwks=jwks_of(frontend_key)("https://app.example.test/api/auth/jwks"),
        issuer=user_issuer,
        audience=USER_AUDIENCE,
        authorization_server=server,
    )


def access_token(key: SigningKey, typ: str | None = "at+jwt", **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": RESOURCE,
        "scope": "tasks:read",
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    headers = {"kid": key.kid, **({"typ": typ} if typ else {})}
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None},
        key.private,
        algorithm=key.algorithm,
        headers=headers,
    )


def test_an_access_token_for_the_resource_carries_its_scopes(
    server_key: SigningKey, frontend_key: SigningKey
) -> None:
    verified = verifier(server_key, frontend_key).verify(
        access_token(server_key, scope="tasks:read  x"), resource=RESOURCE
    )

    assert verified == VerifiedToken("alice", "oauth", frozenset({"tasks:read", "x"}))


def test_without_a_resource_the_oauth_path_is_closed(
    server_key: SigningKey, frontend_key: SigningKey
) -> None:
    """The gateway authorizer names no resource: an access token is not a user token there."""
    with pytest.raises(TokenRejected, match="unknown_kid"):
        verifier(server_key, frontend_key).verify(access_token(server_key))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": None}, "missing_iss"),
        ({"iss": "https://evil.example.test/api/auth"}, "wrong_issuer"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"sub": ""}, "invalid_subject"),
        ({"sub": "alice\ud800"}, "invalid_subject"),
        ({"typ": "logout+jwt"}, "not_an_access_token"),
    ],
)
def test_the_oauth_path_refuses(
    server_key: SigningKey, frontend_key: SigningKey, overrides: dict[str, Any], reason: str
) -> None:
    typ = overrides.pop("typ", "at+jwt")
    token = access_token(server_key, typ=typ, **overrides)
    with pytest.raises(TokenRejected) as refused:
        verifier(server_key, frontend_key).verify(token, resource=RESOURCE)
    assert refused.value.reason == reason


def test_the_resource_claim_stands_in_for_a_missing_aud(
    server_key: SigningKey, frontend_key: SigningKey
) -> None:
    token = access_token(server_key, aud=None, resource=RESOURCE)
    assert verifier(server_key, frontend_key).verify(token, resource=RESOURCE).token_use == "oauth"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://api.example.test/mcp/other"},
        {"aud": None},
        {"aud": None, "resource": "https://api.example.test/other"},
    ],
)
def test_a_token_for_another_resource_is_checked_as_a_user_token_and_never_wakes_the_server(
    server_key: SigningKey, frontend_key: SigningKey, overrides: dict[str, Any]
) -> None:
    check = verifier(server_key, frontend_key)
    with pytest.raises(TokenRejected, match="unknown_kid"):
        check.verify(access_token(server_key, **overrides), resource=RESOURCE)
    assert check.authorization_server is not None and check.authorization_server._metadata is None


def test_with_one_jwks_for_both_a_token_for_another_resource_fails_on_its_audience(
    server_key: SigningKey,
) -> None:
    """Better Auth signs user tokens and access tokens with the same keys and can give both its
    OAuth issuer: the audience alone tells them apart."""
    check = verifier(server_key, server_key, user_issuer=ISSUER)
    user_token = access_token(server_key, typ="JWT", aud=USER_AUDIENCE, scope=None)

    assert check.verify(user_token, resource=RESOURCE) == VerifiedToken("alice", "user")
    with pytest.raises(TokenRejected, match="wrong_audience"):
        check.verify(access_token(server_key, aud="https://elsewhere.example.test/mcp"), resource=RESOURCE)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://API.Example.TEST/mcp", "https://api.example.test/mcp"),
        ("https://api.example.test/mcp/", "https://api.example.test/mcp"),
        ("https://api.example.test/MCP", "https://api.example.test/MCP"),
        ("http://127.0.0.1:3000/mcp", "http://127.0.0.1:3000/mcp"),
    ],
)
def test_resources_compare_with_case_insensitive_scheme_and_host_only(url: str, canonical: str) -> None:
    assert canonical_resource(url) == canonical


@pytest.mark.parametrize(
    ("settings", "oauth"),
    [
        (("", ISSUER, "tasks:read", "tasks:write", ""), True),
        (("", "", "tasks:read", "tasks:write", ""), False),
        (("", "http://auth.example.test/api/auth", "tasks:read", "tasks:write", ""), False),
        # A scope that cannot be written into a challenge closes OAuth rather than opening every tool.
        (("", ISSUER, 'tasks "read"', "tasks:write", ""), False),
        (("", ISSUER, "", "", ""), True),
    ],
)
def test_oauth_is_on_only_with_settings_that_can_work(settings: tuple[str, ...], oauth: bool) -> None:
    from chatkit_backend.auth.resource_server import McpAuthSettings, ResourceServer

    server = ResourceServer(
        McpAuthSettings(*settings), TokenVerifier(session_keys=None, user_keys=None, jwks=None)
    )
    assert server.oauth is oauth


def test_a_custom_resource_url_names_its_own_metadata_url() -> None:
    from chatkit_backend.auth.resource_server import McpAuthSettings, ResourceServer

    server = ResourceServer(
        McpAuthSettings("HTTPS://Tasks.Example.TEST/v1/mcp/", ISSUER, "tasks:read", "", ""),
        TokenVerifier(session_keys=None, user_keys=None, jwks=None),
    )
    endpoint = server.endpoint("abc123.execute-api.us-east-1.amazonaws.com")
    assert endpoint is not None
    assert endpoint.resource == "https://tasks.example.test/v1/mcp"
    assert endpoint.metadata_url == "https://tasks.example.test/.well-known/oauth-protected-resource/v1/mcp"


@pytest.mark.parametrize(
    ("domain", "resource"),
    [
        (
            "abc123.execute-api.us-east-1.amazonaws.com",
            "https://abc123.execute-api.us-east-1.amazonaws.com/mcp",
        ),
        ("127.0.0.1:3000", "http://127.0.0.1:3000/mcp"),
        ("LOCALHOST:3000", "http://localhost:3000/mcp"),
        ("[::1]:3000", "http://[::1]:3000/mcp"),
        ('evil.example"/x', None),
        (None, None),
    ],
)
def test_without_a_custom_url_the_resource_is_where_the_request_came(
    domain: Any, resource: str | None
) -> None:
    from chatkit_backend.auth.resource_server import McpAuthSettings, ResourceServer

    server = ResourceServer(
        McpAuthSettings("", ISSUER, "", "", ""), TokenVerifier(session_keys=None, user_keys=None, jwks=None)
    )
    endpoint = server.endpoint(domain)
    assert (endpoint.resource if endpoint else None) == resource
