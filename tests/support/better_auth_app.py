"""A real Better Auth 1.7.5 app on 127.0.0.1 (tests/support/better_auth/server.mjs), for tests.

It needs Node.js 20 or newer (``tests.support.node``: installed from package-lock.json with
``npm ci``; without node a test that needs the app is skipped, except under ``CI=true``).

The app plays the user's side too: ``sign_up`` makes a user and returns their browser (a client
holding the session cookie), ``approve`` is what the login and consent pages do for a signed-in
user: open the authorization URL, accept, and return the redirect that carries the code.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from local.emulator.runtime import stop
from tests.support.node import npm_ci

APP = Path(__file__).resolve().parent / "better_auth"


@dataclass
class User:
    """A signed-in user: their id (``sub`` everywhere) and their browser, holding the session cookie."""

    user_id: str
    browser: httpx.Client


@dataclass
class BetterAuthApp:
    url: str
    log: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/api/auth"

    def sign_up(self, name: str = "Alice") -> User:
        browser = httpx.Client(base_url=self.url, timeout=30, headers={"origin": self.url})
        email = f"{name.lower()}-{secrets.token_hex(4)}@example.test"
        response = browser.post(
            "/api/auth/sign-up/email",
            json={"email": email, "password": secrets.token_urlsafe(16), "name": name},
        )
        response.raise_for_status()
        return User(response.json()["user"]["id"], browser)

    def approve(self, user: User, authorization_url: str) -> str:
        """The signed-in user opens the authorization URL and consents: the redirect back to the client."""
        response = user.browser.get(authorization_url, follow_redirects=False)
        assert response.status_code == 302, response.text
        location = urljoin(self.url, response.headers["location"])
        if urlsplit(location).path == "/consent":
            query = urlsplit(location).query
            accepted = user.browser.post(
                "/api/auth/oauth2/consent", json={"accept": True, "oauth_query": query}
            )
            accepted.raise_for_status()
            location = accepted.json()["url"]
        return location

    def user_token(self, user: User) -> str:
        """The frontend's user JWT (Better Auth's jwt plugin: ``authClient.token()``)."""
        response = user.browser.get("/api/auth/token")
        response.raise_for_status()
        return response.json()["token"]


@contextmanager
def run_better_auth(resource: str, timeout: float = 60.0) -> Iterator[BetterAuthApp]:
    """The app, protecting ``resource`` (the public URL of /mcp), until the block ends."""
    npm_ci(APP)
    log = Path(tempfile.mkdtemp(prefix="better-auth-")) / "app.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=APP,
            env={**os.environ, "MCP_RESOURCE": resource, "PORT": "0"},
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not (
            started := next(
                (line for line in log.read_text().splitlines() if line.startswith('{"url"')), None
            )
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Better Auth app did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield BetterAuthApp(json.loads(started)["url"], log)
    finally:
        stop(process)
