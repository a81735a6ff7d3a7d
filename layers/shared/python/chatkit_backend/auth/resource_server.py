"""``/mcp`` as an OAuth 2.1 resource server (MCP authorization, revisions 2025-06-18 and 2025-11-25).

``/mcp`` is routed without the gateway authorizer, because an authorizer's 401 cannot carry a
``WWW-Authenticate`` header and MCP clients find the authorization server through it. So this
module answers for the route what the authorizer answers elsewhere, with the same verifier:

- the Protected Resource Metadata (RFC 9728): the resource (the public URL of ``/mcp``), its
  authorization server, the scopes, header-only bearer tokens;
- 401 with ``WWW-Authenticate: Bearer resource_metadata="...", scope="..."`` when no token came,
  plus ``error="invalid_token"`` when one came and was refused (RFC 6750 section 3.1), 400
  ``invalid_request`` for an Authorization header that is not ``Bearer <token>``;
- 403 ``insufficient_scope`` when an OAuth access token lacks a scope the call needs: every
  request needs the read scope, a tool that changes tasks also the write scope;
- 503 when a dependency (Secrets Manager, the authorization server) fails: that says nothing
  about the token, so the client is not sent to sign in again.

The resource URL is ``MCP_RESOURCE_URL`` when set (a custom domain), else the URL the request
came to: ``https://<domain>/mcp`` (plain http for a loopback host, i.e. ``make dev``).
Tokens are never passed on: the verified ``sub`` is all that leaves this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chatkit_backend.auth.identity import TokenRejected, bearer_token
from chatkit_backend.auth.jwks import LOOPBACK_HOSTS, KeysUnavailable, url_problem
from chatkit_backend.auth.tokens import TokenVerifier, VerifiedToken, canonical_resource
from chatkit_backend.auth.verifier import VerifierSettings, build_verifier
from chatkit_backend.errors import DependencyUnavailable
from chatkit_backend.http.responses import HttpRefusal, error_answer
from chatkit_backend.observability.logs import logger
from chatkit_backend.settings import EnvSettings, env

MCP_PATH = "/mcp"
METADATA_PATH = "/.well-known/oauth-protected-resource"
RESOURCE_NAME = "ChatKit Tasks"
# Metadata changes only on deploy; clients may keep it a few minutes.
METADATA_MAX_AGE_SECONDS = 300
# A domain as API Gateway reports it (host, optional port); anything else is not used in a URL.
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

# error_description per refusal reason (RFC 6750 section 3): what a developer needs, no detail more.
_DESCRIPTIONS = {
    "expired": "The access token expired",
    "wrong_audience": "The access token was not issued for this resource",
    "wrong_issuer": "The access token was not issued by this resource's authorization server",
    "missing_iss": "The access token was not issued by this resource's authorization server",
    "inactive": "The access token is not active",
    "oversize": "The access token is too long",
    "session_token": "The token is a chat session's; use a sign-in or access token",
}


@dataclass(frozen=True)
class McpAuthSettings(EnvSettings):
    resource_url: str = env("MCP_RESOURCE_URL")
    authorization_server: str = env("MCP_AUTHORIZATION_SERVER")
    read_scope: str = env("MCP_READ_SCOPE")
    write_scope: str = env("MCP_WRITE_SCOPE")
    introspection_secret_arn: str = env("MCP_INTROSPECTION_SECRET_ARN")

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every scope the resource knows, read first; empty when scopes are not used."""
        return tuple(dict.fromkeys(scope for scope in (self.read_scope, self.write_scope) if scope))

    def problems(self) -> dict[str, str]:
        """Settings that cannot work as given, by field; each is logged at start and turns its feature off."""
        found = {}
        if self.resource_url:
            problem = url_problem(self.resource_url, "MCP_RESOURCE_URL")
            if problem is None and ("?" in self.resource_url or "#" in self.resource_url):
                problem = "MCP_RESOURCE_URL must not carry a query or a fragment"
            if problem:
                found["resource_url"] = problem
        if self.authorization_server:
            problem = url_problem(self.authorization_server, "MCP_AUTHORIZATION_SERVER")
            if problem:
                found["authorization_server"] = problem
        for scope in self.scopes:
            if not re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", scope):
                found["scopes"] = (
                    f"scope {scope!r} has characters a scope token may not have (RFC 6749 section 3.3)"
                )
        return found


@dataclass(frozen=True)
class Endpoint:
    """Where ``/mcp`` is, as clients see it: the resource URL and its metadata URL."""

    resource: str
    metadata_url: str


class ResourceServer:
    """The container's resource-server side of ``/mcp``: metadata, challenges, token checks."""

    def __init__(self, settings: McpAuthSettings, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.verifier = verifier
        problems = settings.problems()
        for problem in problems.values():
            logger.error("MCP OAuth setting refused", extra={"reason": problem})
        usable_url = settings.resource_url and "resource_url" not in problems
        self._resource_url = canonical_resource(settings.resource_url) if usable_url else ""
        # Without an authorization server there is nothing to discover: no metadata, no OAuth tokens.
        # Scopes that cannot be written into a challenge close OAuth too, rather than open every tool.
        self.oauth = bool(settings.authorization_server) and not {"authorization_server", "scopes"} & set(
            problems
        )
        self.scopes = settings.scopes

    @classmethod
    def build(cls, settings: McpAuthSettings, verifier: VerifierSettings) -> ResourceServer:
        """McpFunction's resource server: a verifier built as the authorizer builds its own, plus the
        authorization server's access tokens, and no chat session tokens (refused unread)."""
        return cls(
            settings,
            build_verifier(
                verifier,
                chat=False,
                authorization_server=settings.authorization_server,
                introspection_secret_arn=settings.introspection_secret_arn,
            ),
        )

    def endpoint(self, domain: Any) -> Endpoint | None:
        """The endpoint for a request that reached ``domain`` (API Gateway's ``domainName``)."""
        resource = self._resource_url
        if not resource:
            if not isinstance(domain, str) or not _DOMAIN.match(domain):
                return None
            host = domain.rsplit(":", 1)[0] if not domain.startswith("[") else domain[1 : domain.index("]")]
            scheme = "http" if host.lower() in LOOPBACK_HOSTS else "https"
            resource = canonical_resource(f"{scheme}://{domain}{MCP_PATH}")
        scheme, _, rest = resource.partition("://")
        authority, _, path = rest.partition("/")
        return Endpoint(resource, f"{scheme}://{authority}{METADATA_PATH}{'/' + path if path else ''}")

    def metadata(self, endpoint: Endpoint | None) -> dict[str, Any] | None:
        """The Protected Resource Metadata document (RFC 9728 section 2), or None without OAuth."""
        if not self.oauth or endpoint is None:
            return None
        document: dict[str, Any] = {
            "resource": endpoint.resource,
            "authorization_servers": [self.settings.authorization_server],
        }
        if self.scopes:
            document["scopes_supported"] = list(self.scopes)
        document["bearer_methods_supported"] = ["header"]
        document["resource_name"] = RESOURCE_NAME
        return document

    def request(self, headers: dict[str, str], endpoint: Endpoint | None) -> RequestAuth:
        """The credentials of a request with these (lower-cased) headers."""
        return RequestAuth(self, headers.get("authorization"), endpoint)

    def challenge(
        self, endpoint: Endpoint | None, error: str | None = None, description: str | None = None
    ) -> str:
        """A ``WWW-Authenticate`` value: ``Bearer`` with the RFC 6750 / RFC 9728 parameters that apply."""
        params = []
        if error:
            params.append(f'error="{error}"')
        if description:
            params.append(f'error_description="{description}"')
        if self.oauth and endpoint is not None:
            params.append(f'resource_metadata="{endpoint.metadata_url}"')
        if self.oauth and self.scopes:
            params.append(f'scope="{" ".join(self.scopes)}"')
        return "Bearer " + ", ".join(params) if params else "Bearer"


class RequestAuth:
    """One request's credentials: verified on ``user()``, scopes checked on ``allow()``."""

    def __init__(self, server: ResourceServer, authorization: Any, endpoint: Endpoint | None) -> None:
        self._server = server
        self._authorization = authorization
        self._endpoint = endpoint
        self._verified: VerifiedToken | None = None

    def user(self) -> str:
        """The caller's user id; ``HttpRefusal`` (401, 400 or 503) when there is none to be had."""
        server, endpoint = self._server, self._endpoint
        try:
            token = bearer_token(self._authorization)
            resource = endpoint.resource if server.oauth and endpoint is not None else None
            # A chat session's token is refused here by the verifier (identity.works_on).
            self._verified = server.verifier.verify(token, resource=resource)
        except TokenRejected as rejection:
            raise self._refusal(rejection.reason) from None
        except (KeysUnavailable, DependencyUnavailable) as failure:
            # Expected while the authorization server, a JWKS host or Secrets Manager is down (and no
            # recent copy of its keys is at hand): the cause, no traceback.
            cause = failure.cause if isinstance(failure, DependencyUnavailable) else str(failure)
            logger.error(
                "token could not be checked: keys unavailable", extra={"auth": "error", "reason": cause}
            )
            raise _unavailable(failure if isinstance(failure, DependencyUnavailable) else None) from None
        except Exception:  # noqa: BLE001 - whatever failed, the token could not be checked: 503, logged with its traceback
            logger.exception("token could not be checked: a dependency failed", extra={"auth": "error"})
            raise _unavailable(None) from None
        return self._verified.user_id

    def allow(self, writes: bool) -> None:
        """Refuse (403 ``insufficient_scope``) an OAuth token without the scopes this call needs."""
        granted = self._verified.scopes if self._verified is not None else None
        if granted is None:
            return  # the project's own tokens carry no scopes and may use every tool
        server = self._server
        needed = [server.settings.read_scope, server.settings.write_scope if writes else ""]
        missing = [scope for scope in dict.fromkeys(needed) if scope and scope not in granted]
        if not missing:
            return
        logger.info(
            "token lacks a scope", extra={"auth": "deny", "reason": "insufficient_scope", "missing": missing}
        )
        wanted = " ".join(missing)
        raise HttpRefusal(
            403,
            f"Forbidden: this call needs the {wanted} scope; authorize again and grant it.",
            {
                "www-authenticate": server.challenge(
                    self._endpoint, "insufficient_scope", f"This call needs the {wanted} scope"
                )
            },
        )

    def _refusal(self, reason: str) -> HttpRefusal:
        server, endpoint = self._server, self._endpoint
        if reason == "missing_header" or reason == "wrong_scheme":
            # No bearer credentials at all: the challenge carries no error (RFC 6750 section 3.1).
            return HttpRefusal(
                401,
                "Unauthorized: send Authorization: Bearer <token>.",
                {"www-authenticate": server.challenge(endpoint)},
            )
        logger.info("token rejected", extra={"auth": "deny", "reason": reason})
        if reason == "malformed_header":
            description = "The Authorization header must be Bearer followed by one token"
            return HttpRefusal(
                400,
                "Bad Request: the Authorization header must be 'Bearer <token>'.",
                {"www-authenticate": server.challenge(endpoint, "invalid_request", description)},
            )
        description = _DESCRIPTIONS.get(reason, "The access token is invalid")
        return HttpRefusal(
            401,
            f"Unauthorized: {description.lower()}. Sign in again to get a new token.",
            {"www-authenticate": server.challenge(endpoint, "invalid_token", description)},
        )


def _unavailable(failure: DependencyUnavailable | None) -> HttpRefusal:
    """The 503 a domain outage gets on every HTTP surface (``http.responses.error_answer``), with a JSON-RPC
    body as MCP wants; a key host that is down is an outage of the same kind."""
    status, _, headers = error_answer(failure or DependencyUnavailable("jwks", "keys unavailable"))
    return HttpRefusal(
        status,
        "Service Unavailable: the token could not be checked right now; nothing was done. Retry shortly.",
        headers,
    )
