"""The official MCP SDK client with its OAuth support, as an MCP client application wires it.

``OAuthClientProvider`` (mcp 2.3.0) does discovery from the 401, registration, the authorization
code flow with PKCE and the token request; the application supplies where tokens are kept
(``MemoryStorage``) and the browser step. ``Browser`` plays that step: ``open_url`` is what the
user's browser does with the authorization URL (sign in, consent) and returns the redirect back
to the client, whose code the callback hands over, as a loopback callback server would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl, urlsplit

import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:33418/callback"


class MemoryStorage:
    """Where the client keeps its registration and tokens (the SDK's TokenStorage)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class Browser:
    """The user's browser, driven by ``open_url(authorization_url) -> redirect URL``."""

    def __init__(self, open_url: Callable[[str], str]) -> None:
        self.opened: list[str] = []
        self._open_url = open_url
        self._result: AuthorizationCodeResult | None = None

    async def open(self, url: str) -> None:
        self.opened.append(url)
        redirect = self._open_url(url)
        assert redirect.startswith(REDIRECT_URI), redirect
        params = dict(parse_qsl(urlsplit(redirect).query))
        assert "code" in params, params
        self._result = AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )

    async def callback(self) -> AuthorizationCodeResult:
        assert self._result is not None
        return self._result


def oauth_client(resource: str, browser: Browser, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=resource,
        client_metadata=OAuthClientMetadata(
            client_name="pytest MCP client",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )


@asynccontextmanager
async def connected(
    resource: str, provider: OAuthClientProvider, mode: str = "auto"
) -> AsyncIterator[Client]:
    """An MCP session to ``resource`` whose every request is authorized by ``provider``."""
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(resource, http_client=http), mode=mode) as client,
    ):
        yield client
