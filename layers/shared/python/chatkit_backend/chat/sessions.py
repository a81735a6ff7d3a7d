"""Chat sessions: the short-lived token with which the ChatKit widget talks to ``POST /chatkit``.

``POST /api/chatkit/session`` (a user token) answers a session: a ``client_secret`` (an HS256
session token signed with TokenSigningSecret's AWSCURRENT, ``chatkit_backend.auth.tokens``), when it
expires, where the chat is (``chatkit_url``, the widget's ``api.url``) and the thread to open
(``thread_id``, the user's newest thread, so another device opens where the user left off).
Calling again before ``expires_at`` is the refresh. It costs one Secrets Manager read (cached)
and one DynamoDB Query, and loads neither ChatKit nor ``openai``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatkit_backend.auth.tokens import mint_session_token
from chatkit_backend.aws.secrets import SecretCache
from chatkit_backend.chat.records import latest_thread_id
from chatkit_backend.errors import NotConfigured
from chatkit_backend.limits import SESSION_MAX_SECONDS
from chatkit_backend.observability.metrics import count
from chatkit_backend.settings import EnvSettings, env


@dataclass(frozen=True)
class SessionSettings(EnvSettings):
    """SessionFunction's configuration, from the template's parameters via its environment."""

    token_signing_secret_id: str = env("TOKEN_SIGNING_SECRET_ARN")
    chatkit_table: str = env("CHATKIT_TABLE")
    # The self-hosted ChatKit server's URL (the REST API's /chatkit): the widget's api.url.
    chatkit_url: str = env("CHATKIT_URL")
    # A lifetime no session may have fails the function's start, naming the variable.
    session_seconds: int = env(
        "CHATKIT_SESSION_SECONDS", SESSION_MAX_SECONDS, between=(1, SESSION_MAX_SECONDS)
    )


@dataclass(frozen=True)
class CreatedSession:
    client_secret: str
    expires_at: int
    chatkit_url: str
    thread_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_secret": self.client_secret,
            "expires_at": self.expires_at,
            "chatkit_url": self.chatkit_url,
            "thread_id": self.thread_id,
        }


class SessionService:
    def __init__(self, settings: SessionSettings, secrets: SecretCache | None = None) -> None:
        self.settings = settings
        self.secrets = secrets or SecretCache()

    def restored(self) -> None:
        """After a SnapStart restore: the signing key read afresh (a cached secret is a credential)."""
        self.secrets.clear()

    def create_session(self, user_id: str) -> CreatedSession:
        """A new session for ``user_id``; ``NotConfigured`` without a signing key or the chat's URL."""
        if not self.settings.chatkit_url:
            raise NotConfigured(
                "CHATKIT_URL", "Deploy with template.yaml, which sets it to the ChatKit API's URL."
            )
        signing_key = self.secrets.get(self.settings.token_signing_secret_id)
        if signing_key is None or not signing_key.value:
            raise NotConfigured("the token signing key", "TokenSigningSecret has no AWSCURRENT value.")
        token = mint_session_token(user_id, signing_key.value, self.settings.session_seconds)
        thread_id = latest_thread_id(self.settings.chatkit_table, user_id)
        count("SessionsCreated")
        return CreatedSession(
            client_secret=token.token,
            expires_at=token.expires_at,
            chatkit_url=self.settings.chatkit_url,
            thread_id=thread_id,
        )
