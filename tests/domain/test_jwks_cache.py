"""JwksCache: one fetch per container, a rate-limited refresh on an unknown kid, no loss on failure."""

from __future__ import annotations

from typing import Any

import pytest
from chatkit_backend.auth.jwks import JwksCache, KeysUnavailable, jwks_url_problem, signing_keys

from local.standins.jwks import new_key


class FakeJwks:
    def __init__(self, *documents: dict[str, Any] | Exception) -> None:
        self.documents = list(documents)
        self.calls = 0

    def __call__(self, url: str) -> dict[str, Any]:
        self.calls += 1
        document = self.documents[min(self.calls, len(self.documents)) - 1]
        if isinstance(document, Exception):
            raise document
        return document


def cache_with(fetch: FakeJwks, clock: list[float]) -> JwksCache:
    return JwksCache("https://app.example.test/api/auth/jwks", fetch=fetch, clock=lambda: clock[0])


def test_known_kids_refetch_only_once_the_keys_are_ten_minutes_old() -> None:
    key = new_key("EdDSA")
    fetch, clock = FakeJwks({"keys": [key.public_jwk]}), [0.0]
    cache = cache_with(fetch, clock)

    for _ in range(5):
        assert cache.key(key.kid, "EdDSA") is not None
        clock[0] += 119
    assert fetch.calls == 1

    clock[0] += 600
    assert cache.key(key.kid, "EdDSA") is not None
    assert fetch.calls == 2


def test_a_key_the_frontend_withdrew_stops_verifying_at_the_next_refresh() -> None:
    kept, withdrawn = new_key("EdDSA"), new_key("EdDSA")
    fetch = FakeJwks({"keys": [kept.public_jwk, withdrawn.public_jwk]}, {"keys": [kept.public_jwk]})
    clock = [0.0]
    cache = cache_with(fetch, clock)
    assert cache.key(withdrawn.kid, "EdDSA") is not None

    clock[0] += 601
    assert cache.key(withdrawn.kid, "EdDSA") is None
    assert cache.key(kept.kid, "EdDSA") is not None


def test_when_the_jwks_host_is_down_the_last_keys_serve_for_an_hour_then_stop() -> None:
    key = new_key("EdDSA")
    fetch, clock = FakeJwks({"keys": [key.public_jwk]}, KeysUnavailable("down")), [0.0]
    cache = cache_with(fetch, clock)
    assert cache.key(key.kid, "EdDSA") is not None

    # Down from minute 10 on: every refresh fails, a minute apart, and the known key still verifies.
    for minute in range(10, 60):
        clock[0] = minute * 60.0
        assert cache.key(key.kid, "EdDSA") is not None
    assert 40 <= fetch.calls <= 52

    clock[0] = 3601.0
    with pytest.raises(KeysUnavailable):
        cache.key(key.kid, "EdDSA")
    clock[0] += 10
    with pytest.raises(KeysUnavailable):
        cache.key(key.kid, "EdDSA")


def test_a_jwks_outage_is_logged_once_a_minute_not_once_a_token(caplog: pytest.LogCaptureFixture) -> None:
    key = new_key("EdDSA")
    fetch, clock = FakeJwks({"keys": [key.public_jwk]}, KeysUnavailable("down")), [0.0]
    cache = JwksCache(
        "https://app.example.test/api/auth/jwks", fetch=fetch, clock=lambda: clock[0], refresh_interval=0
    )
    cache.key(key.kid, "EdDSA")
    clock[0] = 700.0
    for _ in range(20):
        clock[0] += 1
        assert cache.key("unknown-kid", "EdDSA") is None  # a refresh on each: the interval is 0 here
    assert fetch.calls > 20
    assert [r.getMessage() for r in caplog.records].count("JWKS fetch failed") == 1
    clock[0] += 60
    cache.key("unknown-kid", "EdDSA")
    assert [r.getMessage() for r in caplog.records].count("JWKS fetch failed") == 2


def test_a_failed_refresh_keeps_the_keys_already_known() -> None:
    key = new_key("ES256")
    fetch, clock = FakeJwks({"keys": [key.public_jwk]}, KeysUnavailable("down")), [0.0]
    cache = cache_with(fetch, clock)
    assert cache.key(key.kid, "ES256") is not None

    clock[0] += 61
    assert cache.key("rotated-away", "ES256") is None

    assert cache.key(key.kid, "ES256") is not None
    assert fetch.calls == 2


def test_a_failed_first_fetch_raises_and_is_retried_after_a_pause_not_on_every_token() -> None:
    key = new_key("EdDSA")
    fetch, clock = FakeJwks(KeysUnavailable("down"), {"keys": [key.public_jwk]}), [0.0]
    cache = cache_with(fetch, clock)

    with pytest.raises(KeysUnavailable):
        cache.key(key.kid, "EdDSA")
    clock[0] += 1
    with pytest.raises(KeysUnavailable):
        cache.key(key.kid, "EdDSA")
    assert fetch.calls == 1

    clock[0] += 5
    assert cache.key(key.kid, "EdDSA") is not None
    assert fetch.calls == 2


def test_a_token_without_kid_gets_a_key_only_when_exactly_one_matches_its_algorithm() -> None:
    one, other = new_key("EdDSA"), new_key("EdDSA")
    rsa = new_key("RS256")
    single = cache_with(FakeJwks({"keys": [one.public_jwk, rsa.public_jwk]}), [0.0])
    double = cache_with(FakeJwks({"keys": [one.public_jwk, other.public_jwk]}), [0.0])

    assert single.key(None, "EdDSA") is not None
    assert double.key(None, "EdDSA") is None


@pytest.mark.parametrize(
    "entry",
    [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "symmetric"},
        {"kty": "OKP", "crv": "Ed25519", "x": "not-base64!", "kid": "broken"},
        {"kid": "no-kty"},
        "not an object",
    ],
    ids=["symmetric-key", "broken-key", "no-kty", "not-an-object"],
)
def test_unusable_jwks_entries_are_skipped(entry: Any) -> None:
    good = new_key("EdDSA")
    encryption = {**new_key("RS256").public_jwk, "use": "enc"}

    keys = signing_keys({"keys": [entry, encryption, good.public_jwk]})

    assert list(keys) == [good.kid]


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://app.example.com/api/auth/jwks", True),
        ("http://localhost:3000/api/auth/jwks", True),
        ("http://127.0.0.1:3000/api/auth/jwks", True),
        ("http://app.example.com/api/auth/jwks", False),
        ("file:///etc/passwd", False),
        ("app.example.com/api/auth/jwks", False),
    ],
)
def test_jwks_url_must_be_https_or_loopback(url: str, accepted: bool) -> None:
    assert (jwks_url_problem(url) is None) is accepted


def test_fetch_follows_a_redirect_to_https_or_loopback_but_not_to_plain_http_elsewhere() -> None:
    import json as json_module
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from chatkit_backend.auth.jwks import fetch_jwks

    key = new_key("EdDSA")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/jwks":
                body = json_module.dumps({"keys": [key.public_jwk]}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            target = {
                "/local": f"http://127.0.0.1:{self.server.server_address[1]}/jwks",
                "/away": "http://keys.example.com/jwks",
            }
            self.send_response(302)
            self.send_header("location", target[self.path])
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert fetch_jwks(f"{base}/local")["keys"][0]["kid"] == key.kid
        # Refused at the redirect (HTTPError), not by trying to reach the host (URLError).
        with pytest.raises(KeysUnavailable, match="HTTPError"):
            fetch_jwks(f"{base}/away")
    finally:
        server.shutdown()
        server.server_close()
