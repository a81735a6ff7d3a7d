"""The OAuth 2.1 authorization server that issues access tokens for ``/mcp``, as a resource server sees it.

Its address is its issuer (``McpAuthorizationServer``; Better Auth's is ``<baseURL>/api/auth``).
Everything else is discovered from its metadata, read once per container: RFC 8414 with the
issuer's path inserted after the well-known prefix, then OpenID Connect discovery in both of
its forms, the order MCP clients use. The metadata must name exactly this issuer (RFC 8414
section 3.3), so a document served for another server is never trusted.

From the metadata come the JWKS that signs JWT access tokens (a ``JwksCache``, cached and
refreshed like the frontend's) and, for opaque tokens, the RFC 7662 introspection endpoint.
Introspection needs a confidential client of that server; its ``client_id`` and
``client_secret`` are read from a secret through the same ``SecretCache`` as the signing keys.
Answers are cached per token for at most a minute (never past the token's ``exp``), so a busy
client costs one introspection a minute and a revoked token is refused within that minute.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from chatkit_backend.auth.jwks import (
    FETCH_TIMEOUT_SECONDS,
    RETRY_AFTER_FAILURE_SECONDS,
    JwksCache,
    KeysUnavailable,
    fetch_json,
    url_problem,
)
from chatkit_backend.observability.logs import logger

INTROSPECTION_CACHE_SECONDS = 60.0
INTROSPECTION_CACHE_ENTRIES = 2048
MAX_INTROSPECTION_BYTES = 64 * 1024


def metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may live, in the order MCP clients try them (MCP authorization,
    "Authorization Server Metadata Discovery"): RFC 8414 path insertion, OIDC path insertion,
    OIDC path appending; an issuer without a path has only the first two."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return [
            f"{origin}/.well-known/oauth-authorization-server",
            f"{origin}/.well-known/openid-configuration",
        ]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


Credentials = Callable[[], "tuple[str, str] | None"]


class AuthorizationServer:
    """One authorization server: its metadata, its signing keys, and introspection at it.

    Nothing is fetched until a token needs it. Failures of the server (unreachable, a document
    that is not its metadata) raise ``KeysUnavailable``: they say nothing about the token.
    """

    def __init__(
        self,
        issuer: str,
        *,
        credentials: Credentials | None = None,
        jwks: Callable[[str], JwksCache] = JwksCache,
        fetch: Callable[[str], Any] = lambda url: fetch_json(url, what="authorization server metadata"),
        post: Callable[[str, dict[str, str], dict[str, str]], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.problem = url_problem(issuer, "McpAuthorizationServer")
        self._credentials = credentials
        self._make_jwks = jwks
        self._fetch = fetch
        self._post = post or _post_form
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._jwks: JwksCache | None = None
        self._last_attempt: float | None = None
        self._introspected: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        """The server's metadata, fetched on first use and kept for the container's life."""
        metadata = self._metadata
        if metadata is not None:
            return metadata
        with self._lock:
            if self._metadata is not None:
                return self._metadata
            if self.problem is not None:
                raise KeysUnavailable(self.problem)
            now = self._clock()
            if self._last_attempt is not None and now - self._last_attempt < RETRY_AFTER_FAILURE_SECONDS:
                raise KeysUnavailable(
                    "authorization server metadata not available yet (last attempt failed moments ago)"
                )
            self._last_attempt = now
            self._metadata = self._discover()
            return self._metadata

    def _discover(self) -> dict[str, Any]:
        failures = []
        for url in metadata_urls(self.issuer):
            try:
                document = self._fetch(url)
            except KeysUnavailable as failure:
                failures.append(f"{url}: {failure}")
                continue
            if not isinstance(document, dict):
                failures.append(f"{url}: not a JSON object")
                continue
            if document.get("issuer") != self.issuer:
                # RFC 8414 section 3.3: the metadata of another issuer must not be used.
                failures.append(f"{url}: names issuer {str(document.get('issuer'))[:200]!r}")
                continue
            return document
        logger.error(
            "authorization server metadata not found", extra={"issuer": self.issuer, "tried": failures}
        )
        raise KeysUnavailable(f"no metadata for issuer {self.issuer}")

    def keys(self) -> JwksCache:
        """The JWKS that signs the server's JWT access tokens (its metadata's ``jwks_uri``)."""
        if self._jwks is None:
            jwks_uri = self.metadata().get("jwks_uri")
            if not isinstance(jwks_uri, str) or url_problem(jwks_uri, "jwks_uri") is not None:
                raise KeysUnavailable("the authorization server's metadata names no usable jwks_uri")
            self._jwks = self._make_jwks(jwks_uri)
        return self._jwks

    def introspects(self) -> bool:
        """Whether opaque tokens can be checked: client credentials are configured (read lazily)."""
        return self._credentials is not None and self._credentials() is not None

    def introspect(self, token: str) -> dict[str, Any] | None:
        """The RFC 7662 answer for an active token, or None when the server says it is not active.

        Cached by the token's SHA-256 (never the token itself): an active answer until the sooner of
        a minute and its ``exp``, an inactive one for a minute.
        """
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        cached = self._introspected.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        credentials = self._credentials() if self._credentials is not None else None
        endpoint = self.metadata().get("introspection_endpoint")
        if (
            credentials is None
            or not isinstance(endpoint, str)
            or url_problem(endpoint, "introspection_endpoint")
        ):
            raise KeysUnavailable("introspection is not available at this authorization server")
        answer = self._post(
            endpoint, {"token": token, "token_type_hint": "access_token"}, _client_auth(*credentials)
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("active"), bool):
            raise KeysUnavailable("the introspection endpoint answered out of shape")
        result = answer if answer["active"] else None
        self._remember(key, now, result)
        return result

    def _remember(self, key: str, now: float, result: dict[str, Any] | None) -> None:
        ttl = INTROSPECTION_CACHE_SECONDS
        exp = result.get("exp") if result is not None else None
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            ttl = max(0.0, min(ttl, exp - time.time()))
        with self._lock:
            if len(self._introspected) >= INTROSPECTION_CACHE_ENTRIES:
                # Drop what has expired; if nothing has, the oldest entry (dicts keep insertion order).
                expired = [k for k, (until, _) in self._introspected.items() if until <= now]
                for stale in expired or [next(iter(self._introspected))]:
                    del self._introspected[stale]
            self._introspected[key] = (now + ttl, result)


def _client_auth(client_id: str, client_secret: str) -> dict[str, str]:
    """HTTP Basic client authentication (RFC 6749 section 2.3.1: each part form-encoded first)."""
    pair = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(client_secret, safe='')}"
    return {"authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


@functools.cache
def _post_opener() -> Any:
    """urllib's opener for introspection, built on first use (as ``jwks`` builds its own): a
    redirected introspection request fails, so the token is never sent anywhere else."""
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirects)


def _post_form(url: str, form: dict[str, str], headers: dict[str, str]) -> Any:
    """One form POST answered with JSON; ``KeysUnavailable`` on anything but a JSON 200."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={
            **headers,
            "content-type": "application/x-www-form-urlencoded",
            "accept": "application/json",
            "user-agent": "chatkit-backend",
        },
        method="POST",
    )
    try:
        with _post_opener().open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            raw = response.read(MAX_INTROSPECTION_BYTES + 1)
    except urllib.error.HTTPError as error:
        if error.code in (400, 401):
            logger.error(
                "the authorization server refused our introspection client", extra={"status": error.code}
            )
        raise KeysUnavailable(f"introspection failed: HTTP {error.code}") from None
    except (OSError, ValueError) as exc:
        raise KeysUnavailable(f"introspection failed: {type(exc).__name__}") from None
    if len(raw) > MAX_INTROSPECTION_BYTES:
        raise KeysUnavailable("introspection answer is larger than expected")
    try:
        return json.loads(raw)
    except ValueError:
        raise KeysUnavailable("introspection answer is not JSON") from None


def secret_credentials(secret_id: str, cache: Any) -> Credentials:
    """Client credentials read from a secret holding ``{"client_id": ..., "client_secret": ...}``.

    Returns None while the secret holds no credentials (the template creates it empty), so
    introspection stays off until the operator puts a confidential client's credentials there.
    """

    def read() -> tuple[str, str] | None:
        version = cache.get(secret_id)
        if version is None:
            return None
        try:
            document = json.loads(version.value)
        except ValueError:
            logger.error("the introspection client secret is not JSON", extra={"secret": secret_id})
            return None
        client_id = document.get("client_id") if isinstance(document, dict) else None
        client_secret = document.get("client_secret") if isinstance(document, dict) else None
        if not (
            isinstance(client_id, str) and client_id and isinstance(client_secret, str) and client_secret
        ):
            return None
        return client_id, client_secret

    return read
