"""The frontend's public signing keys (JWKS), fetched once per container and kept fresh.

A key is looked up by ``kid``. An unknown ``kid`` triggers at most one re-fetch per
``refresh_interval`` seconds (the frontend may have rotated its keys), so a stream of tokens with
made-up ``kid`` values costs one request a minute, not one per token. Known keys are re-read once
they are ``max_age`` old (10 minutes), so a key the frontend has withdrawn stops verifying.
Warm lookups in between touch no network.

When the JWKS host is down, the keys of the last successful fetch keep verifying for up to
``STALE_LIMIT_SECONDS`` (an hour) after it; the failure is logged at most once a minute.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chatkit_backend.observability.logs import Throttle, logger

if TYPE_CHECKING:
    import jwt

ASYMMETRIC_ALGORITHMS = frozenset({"EdDSA", "RS256", "ES256"})
REFRESH_INTERVAL_SECONDS = 60.0
MAX_AGE_SECONDS = 600.0
STALE_LIMIT_SECONDS = 3600.0
# After a failed fetch with no keys at all, try again sooner than a minute: nothing can verify meanwhile.
RETRY_AFTER_FAILURE_SECONDS = 5.0
FETCH_TIMEOUT_SECONDS = 2.0
MAX_JWKS_BYTES = 256 * 1024
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class KeysUnavailable(Exception):
    """The keys needed to verify a token could not be read (a dependency failed, not the token)."""


def url_problem(url: str, setting: str = "JWT_JWKS_URL") -> str | None:
    """Why ``url`` may not serve keys or metadata, or None: https, or plain http on a loopback host only."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return f"{setting} must be an https URL (plain http is accepted for localhost only)"


def jwks_url_problem(url: str) -> str | None:
    """Why ``url`` may not serve signing keys, or None."""
    return url_problem(url)


@functools.cache
def _opener() -> Any:
    """urllib's opener, following a redirect only to a URL we would accept as JWT_JWKS_URL (never
    https -> http). Built on the first fetch: urllib.request is ~18 ms of a cold start, and a
    container that checks only its own tokens never fetches anything."""
    import urllib.error
    import urllib.request

    class SafeRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            if url_problem(newurl) is not None:
                raise urllib.error.HTTPError(
                    newurl, code, "redirect to a URL that may not serve keys", headers, fp
                )
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(SafeRedirects)


def fetch_json(url: str, *, timeout: float = FETCH_TIMEOUT_SECONDS, what: str = "JWKS") -> Any:
    """One GET of a small JSON document; raises ``KeysUnavailable`` on any network or format failure."""
    import urllib.request

    request = urllib.request.Request(
        url, headers={"accept": "application/json", "user-agent": "chatkit-backend"}
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            raw = response.read(MAX_JWKS_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise KeysUnavailable(f"{what} fetch failed: {type(exc).__name__}") from None
    if len(raw) > MAX_JWKS_BYTES:
        raise KeysUnavailable(f"{what} document is larger than expected")
    try:
        return json.loads(raw)
    except ValueError:
        raise KeysUnavailable(f"{what} document is not JSON") from None


def fetch_jwks(url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> dict[str, Any]:
    """One GET of the JWKS document; raises ``KeysUnavailable`` on any network or format failure."""
    document = fetch_json(url, timeout=timeout)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeysUnavailable("JWKS document has no 'keys' list")
    return document


def signing_keys(document: dict[str, Any]) -> dict[str | None, jwt.PyJWK]:
    """The usable signature keys of a JWKS document by ``kid``; keys of other uses or types are skipped."""
    import jwt

    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            continue
        # The key's algorithm is fixed by its type (Ed25519 -> EdDSA, RSA -> RS256, P-256 -> ES256) or
        # by its own "alg"; a token can never pick another one for it.
        if key.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys[entry.get("kid")] = key
    return keys


class JwksCache:
    """The container's view of one JWKS URL."""

    def __init__(
        self,
        url: str,
        *,
        refresh_interval: float = REFRESH_INTERVAL_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        fetch: Callable[[str], dict[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.refresh_interval = refresh_interval
        self.max_age = max_age
        self.fetch_count = 0
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, jwt.PyJWK] | None = None
        self._loaded_at = 0.0
        self._last_attempt: float | None = None
        self._warning = Throttle(60.0, clock)
        self._lock = threading.Lock()

    def key(self, kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        """The key for ``kid`` (or the only key of ``algorithm`` when the token names no kid), else None.

        Raises ``KeysUnavailable`` when no keys have been read, or the last good ones are past
        ``STALE_LIMIT_SECONDS`` and the JWKS still cannot be fetched.
        """
        keys = self._keys
        if keys is None:
            keys = self._load(first=True)
        elif self._clock() - self._loaded_at >= self.max_age and self._may_refresh():
            keys = self._load(first=False)
        found = self._pick(keys, kid, algorithm)
        if found is None and self._may_refresh():
            keys = self._load(first=False)
            found = self._pick(keys, kid, algorithm)
        return found

    def _pick(self, keys: dict[str | None, jwt.PyJWK], kid: str | None, algorithm: str) -> jwt.PyJWK | None:
        if kid is not None:
            return keys.get(kid)
        candidates = [key for key in keys.values() if key.algorithm_name == algorithm]
        return candidates[0] if len(candidates) == 1 else None

    def _may_refresh(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self.refresh_interval

    def _load(self, *, first: bool) -> dict[str | None, jwt.PyJWK]:
        with self._lock:
            if first and self._keys is not None:
                return self._keys
            now = self._clock()
            if (
                first
                and self._last_attempt is not None
                and now - self._last_attempt < RETRY_AFTER_FAILURE_SECONDS
            ):
                raise KeysUnavailable("JWKS not available yet (last fetch failed moments ago)")
            self._last_attempt = now
            self.fetch_count += 1
            try:
                keys = signing_keys(self._fetch(self.url))
            except KeysUnavailable as failure:
                stale = self._keys is not None and now - self._loaded_at < STALE_LIMIT_SECONDS
                if self._warning.ready():
                    logger.warning(
                        "JWKS fetch failed",
                        extra={
                            "reason": str(failure),
                            "serving_cached": stale,
                            "cached_age_seconds": round(now - self._loaded_at)
                            if self._keys is not None
                            else None,
                        },
                    )
                if not stale:
                    # Past the bound the old keys are dropped: a withdrawn key must not verify forever.
                    self._keys = None
                    raise
                # Within the bound, a failed refresh keeps the keys we have: known kids go on verifying.
                return self._keys  # type: ignore[return-value]
            self._keys = keys
            self._loaded_at = now
            return keys
