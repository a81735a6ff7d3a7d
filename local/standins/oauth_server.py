"""An OAuth 2.1 authorization server on 127.0.0.1, standing in for Better Auth's MCP plugin in tests.

It is laid out as Better Auth 1.7 lays out its provider (issuer ``<base>/api/auth``, metadata only
at the path-inserted ``/.well-known/oauth-authorization-server/api/auth``, endpoints under
``/api/auth/oauth2/``) and keeps the rules MCP clients meet there:

- dynamic client registration (RFC 7591), public (``none``) or confidential clients;
- authorization code with PKCE, S256 only; the ``resource`` indicator (RFC 8707) of the
  authorization request is the only one the token request may name;
- the redirect carries ``iss`` (RFC 9207), as its metadata announces;
- the access token is a JWT (``typ: at+jwt``, EdDSA, ``aud`` = the resource) when a resource was
  named, else opaque; ``opaque = True`` makes every token opaque;
- RFC 7662 introspection for confidential clients, of every token it issued.

There is no login page: ``user`` is the signed-in user and ``consent`` decides which of the
requested scopes they grant, so a test drives the browser step with one GET of the
authorization URL and reads the code from the redirect. Every request is recorded in
``requests`` (method, path, parameters) for the tests to check what clients sent.
Keys are generated when it starts; nothing here is a stored secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

from local.standins.jwks import SigningKey, new_key
from local.standins.loopback import StandInHandler, serve

BASE_PATH = "/api/auth"
SCOPES = ["openid", "profile", "email", "offline_access", "tasks:read", "tasks:write"]


@dataclass
class Client:
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    auth_method: str


@dataclass
class Grant:
    """What an authorization code (or a refresh token) stands for."""

    client_id: str
    user: str
    scopes: list[str]
    resource: str | None
    redirect_uri: str = ""
    code_challenge: str = ""


@dataclass
class AuthorizationServer:
    base_url: str = ""
    key: SigningKey = field(default_factory=lambda: new_key("EdDSA"))
    user: str = "alice"
    consent: Callable[[list[str]], list[str]] = lambda requested: requested
    opaque: bool = False
    token_ttl: int = 3600
    clients: dict[str, Client] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _codes: dict[str, Grant] = field(default_factory=dict)
    _refresh: dict[str, Grant] = field(default_factory=dict)
    _issued: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def issuer(self) -> str:
        return self.base_url + BASE_PATH

    def metadata(self) -> dict[str, Any]:
        endpoint = f"{self.issuer}/oauth2"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{endpoint}/authorize",
            "token_endpoint": f"{endpoint}/token",
            "registration_endpoint": f"{endpoint}/register",
            "introspection_endpoint": f"{endpoint}/introspect",
            "jwks_uri": f"{self.issuer}/jwks",
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }

    # ---- what tests call directly --------------------------------------------------------------
    def mint(
        self,
        sub: str = "alice",
        *,
        resource: Any = None,
        scope: str | None = "tasks:read tasks:write",
        ttl: int | None = None,
        key: SigningKey | None = None,
        typ: str | None = "at+jwt",
        **claims: Any,
    ) -> str:
        """A JWT access token as the token endpoint issues it; any claim can be overridden (None drops it)."""
        import jwt

        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": resource,
            "scope": scope,
            "client_id": "test-client",
            "iat": now,
            "exp": now + (self.token_ttl if ttl is None else ttl),
            "jti": secrets.token_urlsafe(12),
            **claims,
        }
        signer = key or self.key
        headers = {"kid": signer.kid, **({"typ": typ} if typ else {})}
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, signer.private, algorithm=signer.algorithm, headers=headers)

    def issue(self, user: str, resource: str | None, scope: str = "tasks:read tasks:write") -> str:
        """An access token as the token endpoint would answer an authorization for ``resource``
        (opaque when ``opaque`` is set or no resource was named)."""
        client = Client("test-client", None, [], "none")
        return self._issue(Grant(client.client_id, user, scope.split(), resource), client)["access_token"]

    def register_confidential(self) -> Client:
        """A confidential client, e.g. the resource server's own for introspection."""
        client = Client(secrets.token_urlsafe(12), secrets.token_urlsafe(24), [], "client_secret_basic")
        self.clients[client.client_id] = client
        return client

    def count(self, path_suffix: str) -> int:
        return sum(1 for _, path, _ in self.requests if path.endswith(path_suffix))

    # ---- endpoints ---------------------------------------------------------------------------
    def register(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        redirect_uris = body.get("redirect_uris")
        if (
            not isinstance(redirect_uris, list)
            or not redirect_uris
            or not all(isinstance(u, str) for u in redirect_uris)
        ):
            return 400, {"error": "invalid_redirect_uri", "error_description": "redirect_uris is required"}
        method = body.get("token_endpoint_auth_method") or "client_secret_basic"  # RFC 7591 section 2
        if method not in ("none", "client_secret_basic", "client_secret_post"):
            return 400, {"error": "invalid_client_metadata", "error_description": f"unsupported {method}"}
        client = Client(
            secrets.token_urlsafe(12),
            None if method == "none" else secrets.token_urlsafe(24),
            redirect_uris,
            method,
        )
        self.clients[client.client_id] = client
        answer = {
            **body,
            "client_id": client.client_id,
            "client_id_issued_at": int(time.time()),
            "token_endpoint_auth_method": method,
        }
        if client.client_secret:
            answer.update(client_secret=client.client_secret, client_secret_expires_at=0)
        return 201, answer

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, Any] | str]:
        """A redirect (302, its Location) with a code or an error; 400 when the redirect is not trusted."""
        client = self.clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None or redirect_uri not in client.redirect_uris:
            return 400, {"error": "invalid_request", "error_description": "unknown client or redirect_uri"}

        def back(**params: str) -> tuple[int, str]:
            state = {"state": query["state"]} if "state" in query else {}
            return 302, f"{redirect_uri}?{urlencode({**params, **state, 'iss': self.issuer})}"

        if query.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE with S256 is required")
        requested = query.get("scope", "").split()
        if any(scope not in SCOPES for scope in requested):
            return back(error="invalid_scope")
        code = secrets.token_urlsafe(24)
        self._codes[code] = Grant(
            client.client_id,
            self.user,
            self.consent(requested),
            query.get("resource"),
            redirect_uri,
            query["code_challenge"],
        )
        return back(code=code)

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        client = self._authenticate(form, authorization)
        if client is None:
            return 401, {"error": "invalid_client"}
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            with self._lock:
                grant = self._codes.pop(form.get("code", ""), None)  # a code is good once
            if (
                grant is None
                or grant.client_id != client.client_id
                or grant.redirect_uri != form.get("redirect_uri")
            ):
                return 400, {"error": "invalid_grant"}
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
            )
            if challenge != grant.code_challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        elif grant_type == "refresh_token":
            grant = self._refresh.pop(form.get("refresh_token", ""), None)
            if grant is None or grant.client_id != client.client_id:
                return 400, {"error": "invalid_grant"}
        else:
            return 400, {"error": "unsupported_grant_type"}
        resource = form.get("resource", grant.resource)
        if resource != grant.resource:
            return 400, {"error": "invalid_target", "error_description": "resource was not authorized"}
        return 200, self._issue(grant, client)

    def _issue(self, grant: Grant, client: Client) -> dict[str, Any]:
        scope = " ".join(grant.scopes)
        if grant.resource and not self.opaque:
            access_token = self.mint(
                grant.user, resource=grant.resource, scope=scope, client_id=client.client_id
            )
        else:
            access_token = secrets.token_urlsafe(32)
        now = int(time.time())
        self._issued[access_token] = {
            "active": True,
            "iss": self.issuer,
            "sub": grant.user,
            "scope": scope,
            "client_id": client.client_id,
            "token_type": "Bearer",
            "iat": now,
            "exp": now + self.token_ttl,
            **({"aud": grant.resource} if grant.resource else {}),
        }
        refresh_token = secrets.token_urlsafe(32)
        self._refresh[refresh_token] = grant
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_ttl,
            "scope": scope,
            "refresh_token": refresh_token,
        }

    def introspect(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        client = self._authenticate(form, authorization)
        if client is None or client.client_secret is None:
            return 401, {"error": "invalid_client"}
        answer = self._issued.get(form.get("token", ""))
        if answer is None or answer["exp"] <= time.time():
            return 200, {"active": False}
        return 200, answer

    def revoke(self, token: str) -> None:
        self._issued.pop(token, None)

    def _authenticate(self, form: dict[str, str], authorization: str | None) -> Client | None:
        if authorization and authorization.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            client = self.clients.get(unquote_plus(client_id))
            return client if client and client.client_secret == unquote_plus(secret) else None
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            return None
        if client.auth_method == "none":
            return client
        return client if client.client_secret == form.get("client_secret") else None


@contextmanager
def serve_authorization_server(server: AuthorizationServer | None = None) -> Iterator[AuthorizationServer]:
    """The stand-in on a free port of 127.0.0.1 until the block ends."""
    state = server or AuthorizationServer()

    class Handler(StandInHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            state.requests.append(("GET", url.path, query))
            if url.path == f"/.well-known/oauth-authorization-server{BASE_PATH}":
                self._json(200, state.metadata())
            elif url.path == f"{BASE_PATH}/jwks":
                self._json(200, {"keys": [state.key.public_jwk]})
            elif url.path == f"{BASE_PATH}/oauth2/authorize":
                status, answer = state.authorize(query)
                if status == 302:
                    self.answer(302, headers={"location": str(answer)})
                else:
                    self._json(status, answer)
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            is_json = "json" in (self.headers.get("content-type") or "")
            form = json.loads(raw) if is_json else dict(parse_qsl(raw))
            state.requests.append(("POST", url.path, form))
            authorization = self.headers.get("authorization")
            if url.path == f"{BASE_PATH}/oauth2/register":
                self._json(*state.register(form))
            elif url.path == f"{BASE_PATH}/oauth2/token":
                self._json(*state.token(form, authorization))
            elif url.path == f"{BASE_PATH}/oauth2/introspect":
                self._json(*state.introspect(form, authorization))
            else:
                self._json(404, {"error": "not_found"})

        def _json(self, status: int, body: Any) -> None:
            self.answer_json(status, body, {"cache-control": "no-store"})

    with serve(Handler) as url:
        state.base_url = url
        yield state
