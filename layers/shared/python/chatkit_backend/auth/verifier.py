"""The container's token verifier, built from the environment the same way wherever tokens are read.

The gateway authorizer (every route but ``/mcp``) and McpFunction (``/mcp``, which answers its
own 401s) build their verifier here, from the same variables, reading keys through the same
caches: signing secrets through a ``SecretCache``, the frontend's JWKS through a ``JwksCache``.
McpFunction adds the MCP authorization server, whose JWKS is shared with the frontend's when both
are the same document (Better Auth serves one ``/api/auth/jwks``).
"""

from __future__ import annotations

from dataclasses import dataclass

from chatkit_backend.auth.authorization_server import AuthorizationServer, secret_credentials
from chatkit_backend.auth.jwks import JwksCache, jwks_url_problem
from chatkit_backend.auth.tokens import SigningKeys, TokenVerifier
from chatkit_backend.aws.secrets import CURRENT, PREVIOUS, SecretCache
from chatkit_backend.observability.logs import logger
from chatkit_backend.settings import EnvSettings, env


@dataclass(frozen=True)
class VerifierSettings(EnvSettings):
    token_signing_secret_arn: str = env("TOKEN_SIGNING_SECRET_ARN")
    user_token_secret_arn: str = env("USER_TOKEN_SECRET_ARN")
    jwks_url: str = env("JWT_JWKS_URL")
    issuer: str = env("JWT_ISSUER")
    audience: str = env("JWT_AUDIENCE")

    def jwks_problem(self) -> str | None:
        """Why asymmetric tokens cannot be accepted with these settings, or None when they can."""
        if not self.jwks_url:
            return "JWT_JWKS_URL is not set"
        if not self.issuer or not self.audience:
            return "JWT_ISSUER and JWT_AUDIENCE are required when JWT_JWKS_URL is set"
        return jwks_url_problem(self.jwks_url)


def build_verifier(
    settings: VerifierSettings,
    cache: SecretCache | None = None,
    *,
    chat: bool = True,
    authorization_server: str = "",
    introspection_secret_arn: str = "",
) -> TokenVerifier:
    """The container's verifier; nothing is fetched until the first token needs it.

    ``chat``: the verifier serves ``POST /chatkit`` (the authorizer's does), so it verifies chat
    session tokens; without it (McpFunction's) they are refused unread.

    ``authorization_server`` (an issuer URL) admits OAuth access tokens when the caller verifies
    for a resource; ``introspection_secret_arn`` names the secret with the confidential client
    credentials that introspection of opaque tokens needs.
    """
    cache = cache or SecretCache()
    jwks_problem = settings.jwks_problem() if settings.jwks_url else None
    if jwks_problem:
        logger.error("asymmetric user tokens are refused", extra={"reason": jwks_problem})
    jwks = JwksCache(settings.jwks_url) if settings.jwks_url else None
    server = None
    if authorization_server:
        server = AuthorizationServer(
            authorization_server,
            credentials=secret_credentials(introspection_secret_arn, cache)
            if introspection_secret_arn
            else None,
            jwks=lambda url: jwks if jwks is not None and jwks.url == url else JwksCache(url),
        )
    return TokenVerifier(
        # Session tokens survive one rotation: AWSPREVIOUS is still accepted (a second one retires them).
        session_keys=SigningKeys(settings.token_signing_secret_arn, cache, (CURRENT, PREVIOUS))
        if chat and settings.token_signing_secret_arn
        else None,
        # A replaced shared user secret stops working at once: only AWSCURRENT.
        user_keys=SigningKeys(settings.user_token_secret_arn, cache, (CURRENT,))
        if settings.user_token_secret_arn
        else None,
        jwks=jwks,
        issuer=settings.issuer,
        audience=settings.audience,
        jwks_problem=jwks_problem,
        authorization_server=server,
        chat=chat,
    )
