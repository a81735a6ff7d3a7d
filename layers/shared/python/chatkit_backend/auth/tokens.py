"""The project's tokens: the chat session token SessionFunction mints, and the verification of every token.

A session token (the ``client_secret`` of ``POST /api/chatkit/session``) is an HS256 JWT signed
with TokenSigningSecret (AWSCURRENT), at most ``limits.SESSION_MAX_SECONDS`` long. Its audience
(``SESSION_AUDIENCE``) is distinct from any user token's, so neither kind is accepted where the
other is expected; it works on ``POST /chatkit`` only (``chatkit_backend.auth.identity`` says where
each kind of token works). ``TokenVerifier`` is the one implementation of token checks. The
gateway authorizer runs it for every route but ``/mcp``; McpFunction runs it for ``/mcp``,
naming itself as the ``resource``:

- asymmetric user tokens (EdDSA, RS256, ES256) verify against the frontend's JWKS, with ``iss``
  and ``aud`` required to equal JWT_ISSUER and JWT_AUDIENCE;
- HS256 tokens whose ``aud`` is ``SESSION_AUDIENCE`` verify against TokenSigningSecret's
  AWSCURRENT and AWSPREVIOUS keys, so a rotation never rejects a token minted just before it (and
  a second rotation retires it). A verifier that does not serve ``POST /chatkit`` (McpFunction's)
  refuses them by that audience alone, without reading a key (``identity.works_on``);
- any other HS256 token is a user token and verifies against UserTokenSecret's AWSCURRENT, with
  ``iss`` checked when JWT_ISSUER is set and ``aud`` required to equal JWT_AUDIENCE when set (and
  to be absent when it is not);
- only when a ``resource`` is given (McpFunction): OAuth access tokens from the MCP authorization
  server. A JWT that names the resource verifies against that server's JWKS with ``iss`` equal
  to its issuer (RFC 9068, RFC 8707); an opaque token is introspected (RFC 7662) when the server
  offers it and client credentials are configured. Their scopes come with the identity. An
  access token for another resource is a user token to this verifier, and fails as one.

Which path a token takes is read from its unverified header and audience, but each path verifies
with its own key, algorithm and audience, so choosing a path never lets a token skip a check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from chatkit_backend import limits
from chatkit_backend.auth.authorization_server import AuthorizationServer
from chatkit_backend.auth.identity import TokenRejected, TokenUse, works_on
from chatkit_backend.auth.jwks import ASYMMETRIC_ALGORITHMS, JwksCache
from chatkit_backend.aws.secrets import CURRENT, PREVIOUS, SecretVersion

if TYPE_CHECKING:
    import jwt

SESSION_AUDIENCE = "chatkit-backend:chatkit"
ISSUER = "chatkit-backend"
ALGORITHM = "HS256"

ALLOWED_ALGORITHMS = frozenset({ALGORITHM, *ASYMMETRIC_ALGORITHMS})
# Clock skew tolerated on exp, nbf and iat between the signer and Lambda.
LEEWAY_SECONDS = 30
# On a signature miss, re-read the signing secret at most once a second: a rotation that has just
# finished must not wait for the cache to expire, and forged tokens cost at most two reads a second
# per container; the window in which a flood of them could delay a just-rotated key is one second.
KEY_REFRESH_INTERVAL_SECONDS = 1.0

# RFC 9068 section 4: a JWT access token's typ is at+jwt; "JWT" (or none) is what many servers
# still send. Anything else (an ID token's, a logout token's) is another kind of JWT.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt", "jwt"})


@dataclass(frozen=True)
class SessionToken:
    token: str
    expires_at: int  # unix seconds, the token's exp


def mint_session_token(
    user_id: str, signing_key: str, ttl_seconds: int, *, now: float | None = None
) -> SessionToken:
    """A token with which ``POST /chatkit`` acts for ``user_id`` for ``ttl_seconds``."""
    issued = int(time.time() if now is None else now)
    claims = {
        "sub": user_id,
        "aud": SESSION_AUDIENCE,
        "iss": ISSUER,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    import jwt

    return SessionToken(jwt.encode(claims, signing_key, algorithm=ALGORITHM), issued + ttl_seconds)


@dataclass(frozen=True)
class VerifiedToken:
    user_id: str
    token_use: TokenUse
    # What an OAuth access token grants. None for user and session tokens, which carry no
    # scopes: they act for their user with every tool.
    scopes: frozenset[str] | None = None
    # A session token's exp (unix seconds): the authorizer passes it on to ChatKitFunction.
    expires_at: int | None = None


class SecretSource(Protocol):
    """What ``SigningKeys`` reads through: ``secrets.SecretCache`` (or an in-memory stand-in)."""

    def get(self, secret_id: str, stage: str = CURRENT, *, force: bool = False) -> SecretVersion | None: ...


class SigningKeys:
    """The HS256 keys of one secret at the given stages, read through a bounded-age ``SecretCache``.

    ``keys()`` is the warm path (cached). ``refresh_after_miss()`` re-reads the secret when a token
    failed every cached key, at most once per ``refresh_interval``, and returns the keys it had not
    seen, so a token signed with a key newer than the cached ones passes at once.
    """

    def __init__(
        self,
        secret_id: str,
        cache: SecretSource,
        stages: tuple[str, ...] = (CURRENT, PREVIOUS),
        *,
        refresh_interval: float = KEY_REFRESH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self.stages = stages
        self.refresh_interval = refresh_interval
        self._cache = cache
        self._clock = clock
        self._last_forced: float | None = None
        self._current_version: str | None = None
        self._lock = threading.Lock()

    def keys(self, *, force: bool = False) -> tuple[str, ...]:
        versions = []
        for stage in self.stages:
            # When AWSCURRENT has moved since the last read, every other stage has moved too: re-read
            # them with it, so a key two rotations old never survives beside the new current one.
            version = self._cache.get(self.secret_id, stage, force=force)
            if stage == CURRENT and version is not None:
                if self._current_version not in (None, version.version_id):
                    force = True
                self._current_version = version.version_id
            if version is not None:
                versions.append(version.value)
        return tuple(dict.fromkeys(versions))

    def refresh_after_miss(self) -> tuple[str, ...]:
        """Keys that were not in the cache before this re-read; empty when rate-limited or unchanged."""
        with self._lock:
            now = self._clock()
            if self._last_forced is not None and now - self._last_forced < self.refresh_interval:
                return ()
            self._last_forced = now
        before = set(self.keys())
        return tuple(key for key in self.keys(force=True) if key not in before)


@dataclass(frozen=True)
class _Path:
    """How one kind of token is verified."""

    token_use: TokenUse
    audience: str | None
    issuer: str | None


def load_now() -> None:
    """Import PyJWT at init rather than with the first token: for a SnapStart function, whose
    snapshot then holds it instead of its first request after each restore paying for it."""
    _pyjwt()


@cache
def _pyjwt() -> jwt.PyJWT:
    """PyJWT, imported with the first token to verify: with cryptography it is ~27 ms of a cold
    start, which a request without a token (a 401, the OAuth metadata) never needs."""
    import jwt

    return jwt.PyJWT(options={"require": ["exp", "sub"], "verify_signature": True, "strict_aud": False})


_URLSAFE = bytes.maketrans(b"-_", b"+/")


class TokenVerifier:
    """Verifies bearer tokens; ``verify`` returns the caller's identity or raises ``TokenRejected``.

    A key source that is None (not configured) rejects its kind of token. Dependency failures
    (Secrets Manager, the JWKS host) raise ``KeysUnavailable`` or botocore errors, not
    ``TokenRejected``: they say nothing about the token.
    """

    def __init__(
        self,
        *,
        session_keys: SigningKeys | None,
        user_keys: SigningKeys | None,
        jwks: JwksCache | None,
        issuer: str = "",
        audience: str = "",
        jwks_problem: str | None = None,
        authorization_server: AuthorizationServer | None = None,
        chat: bool = True,
    ) -> None:
        self.session_keys = session_keys
        # Whether the verifier serves POST /chatkit, the one route a session token works on.
        self.chat = chat
        self.user_keys = user_keys
        self.jwks = jwks
        self.jwks_problem = jwks_problem
        self.authorization_server = authorization_server
        self._session = _Path("session", SESSION_AUDIENCE, ISSUER)
        self._user = _Path("user", audience or None, issuer or None)

    def verify(self, token: str, *, resource: str | None = None) -> VerifiedToken:
        """The caller's identity. ``resource`` (the canonical URL of ``/mcp``) also admits OAuth
        access tokens issued for exactly that resource by the configured authorization server."""
        if len(token) > limits.TOKEN_MAX_CHARS:
            raise TokenRejected("oversize")
        server = self.authorization_server if resource else None
        try:
            header, claims = _unverified(token)
        except TokenRejected:
            if server is not None and server.introspects():
                return self._introspect(token, server, resource or "")
            raise
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in ALLOWED_ALGORITHMS:
            raise TokenRejected("algorithm_not_allowed")
        if algorithm == ALGORITHM:
            if _names_audience(claims.get("aud"), SESSION_AUDIENCE):
                if not works_on("session", chat=self.chat):
                    # Refused by its audience alone: no key is read for a token that cannot be used here.
                    raise TokenRejected("session_token")
                return self._verify_shared_secret(token, self.session_keys, self._session)
            return self._verify_shared_secret(token, self.user_keys, self._user)
        # By audience, as for HS256: a token that names the resource is an access token for it;
        # any other (a user token, or an access token for another resource) is checked as a user
        # token, which also keeps a token not meant for /mcp from waking the authorization server.
        if server is not None and _names_resource(claims, resource or ""):
            return self._verify_access_token(token, header, algorithm, server, resource or "")
        return self._verify_jwks(token, header, algorithm)

    def _verify_shared_secret(self, token: str, source: SigningKeys | None, path: _Path) -> VerifiedToken:
        if source is None:
            raise TokenRejected(f"{path.token_use}_secret_not_configured")
        key = _hs256_signer(token, source.keys()) or _hs256_signer(token, source.refresh_after_miss())
        if key is None:
            raise TokenRejected("bad_signature")
        verified = self._try_key(token, key, ALGORITHM, path)
        if verified is None:
            raise TokenRejected("bad_signature")
        return verified

    def _verify_jwks(self, token: str, header: dict[str, Any], algorithm: str) -> VerifiedToken:
        if self.jwks is None or self.jwks_problem is not None:
            raise TokenRejected("jwks_not_configured")
        key = _key_from(self.jwks, header, algorithm)
        verified = self._try_key(token, key, algorithm, self._user)
        if verified is None:
            raise TokenRejected("bad_signature")
        return verified

    def _verify_access_token(
        self, token: str, header: dict[str, Any], algorithm: str, server: AuthorizationServer, resource: str
    ) -> VerifiedToken:
        """An OAuth access token (RFC 9068) for ``resource``, signed by the authorization server."""
        token_type = header.get("typ")
        if token_type is not None and (
            not isinstance(token_type, str) or token_type.lower() not in ACCESS_TOKEN_TYPES
        ):
            raise TokenRejected("not_an_access_token")
        key = _key_from(server.keys(), header, algorithm)
        # The audience is compared below as a resource URL (RFC 8707), not as a plain string.
        options = {"require": ["exp", "sub", "iss"], "verify_aud": False}
        claims = _decode(token, key, algorithm, audience=None, issuer=server.issuer, options=options)
        if claims is None:
            raise TokenRejected("bad_signature")
        if not _names_resource(claims, resource):
            raise TokenRejected("wrong_audience")
        return _identity(claims, "oauth", _scopes(claims))

    def _introspect(self, token: str, server: AuthorizationServer, resource: str) -> VerifiedToken:
        """An opaque access token, as the authorization server describes it (RFC 7662)."""
        answer = server.introspect(token)
        if answer is None:
            raise TokenRejected("inactive")
        if answer.get("iss") is not None and answer["iss"] != server.issuer:
            raise TokenRejected("wrong_issuer")
        if not _names_resource(answer, resource):
            raise TokenRejected("wrong_audience")
        now = time.time()
        exp = answer.get("exp")
        if exp is not None and (not _is_number(exp) or exp + LEEWAY_SECONDS <= now):
            raise TokenRejected("expired")
        nbf = answer.get("nbf")
        if nbf is not None and (not _is_number(nbf) or nbf - LEEWAY_SECONDS > now):
            raise TokenRejected("not_yet_valid")
        if "sub" not in answer:
            raise TokenRejected("missing_sub")
        return _identity(answer, "oauth", _scopes(answer))

    def _try_key(self, token: str, key: Any, algorithm: str, path: _Path) -> VerifiedToken | None:
        """The identity if ``key`` signed the token and its claims hold; None on a signature miss."""
        claims = _decode(token, key, algorithm, audience=path.audience, issuer=path.issuer)
        return None if claims is None else _identity(claims, path.token_use)


def _decode(
    token: str, key: Any, algorithm: str, *, audience: str | None, issuer: str | None, options: Any = None
) -> dict[str, Any] | None:
    """The token's claims if ``key`` signed it and they hold; None on a signature miss."""
    import jwt

    try:
        return _pyjwt().decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options=options,
        )
    except jwt.InvalidSignatureError:
        return None
    except jwt.PyJWTError as error:
        raise TokenRejected(_reason(error)) from None


def _key_from(jwks: JwksCache, header: dict[str, Any], algorithm: str) -> Any:
    """The JWKS key the header names (by ``kid``), which must be a key of ``algorithm``'s type."""
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenRejected("malformed")
    key = jwks.key(kid, algorithm)
    if key is None:
        raise TokenRejected("unknown_kid")
    if key.algorithm_name != algorithm:
        raise TokenRejected("algorithm_mismatch")
    return key


def _identity(
    claims: dict[str, Any], token_use: TokenUse, scopes: frozenset[str] | None = None
) -> VerifiedToken:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > limits.USER_ID_MAX_CHARS:
        raise TokenRejected("invalid_subject")
    # The subject is the user's id: a key in every table, in answers (the export) and in logs. It
    # holds none of the characters a task's text may not (control characters, lone surrogates),
    # nor the tab and newline a description may.
    if limits.forbidden_character(subject) is not None or "\t" in subject or "\n" in subject:
        raise TokenRejected("invalid_subject")
    # PyJWT has checked that exp is there and a number.
    expires_at = int(claims["exp"]) if token_use == "session" else None
    return VerifiedToken(user_id=subject, token_use=token_use, scopes=scopes, expires_at=expires_at)


def canonical_resource(url: str) -> str:
    """A resource URL as RFC 8707 compares it: scheme and host lower-cased, no trailing slash."""
    scheme, _, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{authority.lower()}{slash}{path}".rstrip("/")


def _names_resource(claims: dict[str, Any], resource: str) -> bool:
    """Whether the token was issued for ``resource``: its ``aud`` names it, or, with no ``aud``,
    its ``resource`` claim does (some servers put the RFC 8707 indicator there)."""
    named = claims.get("aud") if "aud" in claims else claims.get("resource")
    values = named if isinstance(named, list) else [named]
    wanted = canonical_resource(resource)
    return any(isinstance(value, str) and canonical_resource(value) == wanted for value in values)


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    """Granted scopes: ``scope`` as a space-separated string (RFC 9068), or ``scp`` as a list."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(item for item in scp if isinstance(item, str))
    return frozenset()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _hs256_signer(token: str, keys: tuple[str, ...]) -> str | None:
    """The key among ``keys`` whose HMAC matches the token's signature, found without PyJWT.

    Trying keys through ``jwt.decode`` costs an exception per miss; a token signed with
    AWSPREVIOUS would pay one on every request. PyJWT still verifies the chosen key in full.
    """
    if not keys:
        return None
    signing_input, _, signature = token.rpartition(".")
    try:
        expected = _b64url(signature)
    except (binascii.Error, ValueError):
        return None
    data = signing_input.encode("ascii", "replace")
    for key in keys:
        if hmac.compare_digest(hmac.new(key.encode(), data, hashlib.sha256).digest(), expected):
            return key
    return None


def _names_audience(claim: Any, audience: str) -> bool:
    return claim == audience or (isinstance(claim, list) and audience in claim)


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, before any check: only to choose the verification path."""
    parts = token.split(".")
    # An empty signature is left to the algorithm check ("alg": "none") or to verification.
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise TokenRejected("not_a_jwt")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
    except (binascii.Error, ValueError):
        raise TokenRejected("bad_encoding") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenRejected("bad_encoding")
    return header, claims


def _b64url(segment: str) -> bytes:
    raw = segment.encode("ascii")
    return base64.b64decode(raw.translate(_URLSAFE) + b"=" * (-len(raw) % 4), validate=True)


def _reason(error: jwt.PyJWTError) -> str:
    import jwt

    if isinstance(error, jwt.ExpiredSignatureError):
        return "expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "issued_in_future" if "(iat)" in str(error) else "not_yet_valid"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing_{error.claim}"
    if isinstance(error, jwt.InvalidAudienceError):
        return "wrong_audience"
    if isinstance(error, jwt.InvalidIssuerError):
        return "wrong_issuer"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "algorithm_not_allowed"
    if isinstance(error, (jwt.exceptions.InvalidSubjectError, jwt.exceptions.InvalidIssuedAtError)):
        return "invalid_claims"
    return "malformed"
