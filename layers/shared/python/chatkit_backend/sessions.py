"""ChatKit sessions: one hosted-ChatKit session per call, acting for the signed-in user.

Each session runs the configured Agent Builder workflow with two state variables: ``user_id``
and an ``mcp_token`` (HS256, TokenSigningSecret AWSCURRENT, expiring with the session), so the
workflow's MCP calls act for this user and no other. Calling again is the refresh path: ChatKit's
``getClientSecret(currentClientSecret)`` asks for a new session before the old one expires.

Only SessionFunction imports this module: it is the one place ``openai`` is loaded.
Upstream failures become domain errors here; OpenAI's own messages are never passed on, since
some of them quote part of the API key.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import openai

# client.beta imports the SDK's whole beta namespace (~0.3 s) on first use: pay it at start-up,
# where SnapStart or provisioned concurrency absorb it, not in the first user's request.
import openai.resources.beta.beta  # noqa: F401

from chatkit_backend.errors import (
    NotConfigured,
    RateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from chatkit_backend.metrics import count
from chatkit_backend.observability import logger
from chatkit_backend.openai_key import openai_api_key
from chatkit_backend.openai_pools import sync_pool
from chatkit_backend.secrets import SecretCache
from chatkit_backend.settings import env_bool, env_int, env_str
from chatkit_backend.threads import upsert_thread, validate_thread_id
from chatkit_backend.tokens import mint_mcp_token
from chatkit_backend.upstream import retry_after_seconds

MAX_SESSION_SECONDS = 600  # OpenAI's ceiling for expires_after.seconds
MAX_FILE_SIZE_MB = 512
# Only connection failures and 5xx are retried, once, after this pause. Timeouts are not: a
# second full wait would push the answer past API Gateway's 30 s.
RETRY_PAUSE_SECONDS = 0.5
WORKFLOW_SETTING = "the ChatKit workflow id"
WORKFLOW_HINT = "Set the ChatKitWorkflowId parameter (CHATKIT_WORKFLOW_ID for make dev) to your wf_... id."


@dataclass(frozen=True)
class SessionSettings:
    """SessionFunction's configuration, from the template's parameters via its environment."""

    workflow_id: str
    workflow_version: str
    openai_key_secret_id: str
    token_signing_secret_id: str
    threads_table: str
    history_enabled: bool
    history_recent_threads: int  # 0: every thread
    automatic_thread_titling: bool
    file_upload_enabled: bool
    file_upload_max_files: int
    file_upload_max_file_size_mb: int
    session_seconds: int
    rate_limit_per_minute: int
    openai_timeout_seconds: float

    @classmethod
    def from_env(cls) -> SessionSettings:
        settings = cls(
            workflow_id=env_str("CHATKIT_WORKFLOW_ID"),
            workflow_version=env_str("CHATKIT_WORKFLOW_VERSION"),
            openai_key_secret_id=env_str("OPENAI_API_KEY_SECRET_ARN"),
            token_signing_secret_id=env_str("TOKEN_SIGNING_SECRET_ARN"),
            threads_table=env_str("THREADS_TABLE"),
            history_enabled=env_bool("CHATKIT_HISTORY_ENABLED", True),
            history_recent_threads=env_int("CHATKIT_HISTORY_RECENT_THREADS", 0),
            automatic_thread_titling=env_bool("CHATKIT_AUTOMATIC_THREAD_TITLING", True),
            file_upload_enabled=env_bool("CHATKIT_FILE_UPLOAD_ENABLED", False),
            file_upload_max_files=env_int("CHATKIT_FILE_UPLOAD_MAX_FILES", 10),
            file_upload_max_file_size_mb=env_int("CHATKIT_FILE_UPLOAD_MAX_FILE_SIZE_MB", MAX_FILE_SIZE_MB),
            session_seconds=env_int("CHATKIT_SESSION_SECONDS", MAX_SESSION_SECONDS),
            rate_limit_per_minute=env_int("CHATKIT_RATE_LIMIT_PER_MINUTE", 10),
            openai_timeout_seconds=float(env_int("OPENAI_TIMEOUT_SECONDS", 10)),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Fail at start-up, naming the variable, on values OpenAI would refuse on every call."""
        if not 1 <= self.session_seconds <= MAX_SESSION_SECONDS:
            raise ValueError(
                f"CHATKIT_SESSION_SECONDS must be 1 to {MAX_SESSION_SECONDS}, got {self.session_seconds}"
            )
        if self.history_recent_threads < 0:
            raise ValueError("CHATKIT_HISTORY_RECENT_THREADS must be 0 (all) or more")
        if self.file_upload_max_files < 1:
            raise ValueError("CHATKIT_FILE_UPLOAD_MAX_FILES must be 1 or more")
        if not 1 <= self.file_upload_max_file_size_mb <= MAX_FILE_SIZE_MB:
            raise ValueError(f"CHATKIT_FILE_UPLOAD_MAX_FILE_SIZE_MB must be 1 to {MAX_FILE_SIZE_MB}")
        if self.rate_limit_per_minute < 1:
            raise ValueError("CHATKIT_RATE_LIMIT_PER_MINUTE must be 1 or more")
        if self.openai_timeout_seconds <= 0:
            raise ValueError("OPENAI_TIMEOUT_SECONDS must be more than 0")

    def chatkit_configuration(self) -> dict[str, Any]:
        history: dict[str, Any] = {"enabled": self.history_enabled}
        if self.history_recent_threads:
            history["recent_threads"] = self.history_recent_threads
        file_upload: dict[str, Any] = {"enabled": self.file_upload_enabled}
        if self.file_upload_enabled:
            file_upload["max_files"] = self.file_upload_max_files
            file_upload["max_file_size"] = self.file_upload_max_file_size_mb
        return {
            "history": history,
            "automatic_thread_titling": {"enabled": self.automatic_thread_titling},
            "file_upload": file_upload,
        }


@dataclass(frozen=True)
class CreatedSession:
    client_secret: str
    expires_at: int

    def to_dict(self) -> dict[str, Any]:
        return {"client_secret": self.client_secret, "expires_at": self.expires_at}


class OpenAIClients:
    """The container's OpenAI client, rebuilt only when the key in the secret changes.

    Every client shares one HTTP pool, built at init; ``renew`` replaces it after a SnapStart
    restore (``chatkit_backend.openai_pools``).
    """

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()
        self._key: str | None = None
        self._client: openai.OpenAI | None = None
        self._http = sync_pool()

    def renew(self) -> None:
        with self._lock:
            self._http = sync_pool()
            self._client, self._key = None, None

    def get(self, api_key: str) -> openai.OpenAI:
        with self._lock:
            if self._client is None or api_key != self._key:
                # max_retries=0: the SDK would otherwise honour a 429's Retry-After (up to two
                # minutes) and retry timeouts, both past API Gateway's limit. Retries are ours.
                # base_url comes from OPENAI_BASE_URL when set, as the SDK reads it.
                self._client = openai.OpenAI(
                    api_key=api_key,
                    timeout=openai.Timeout(self.timeout_seconds, connect=min(3.0, self.timeout_seconds)),
                    max_retries=0,
                    http_client=self._http,
                )
                self._key = api_key
            return self._client


class SessionService:
    def __init__(self, settings: SessionSettings, secrets: SecretCache | None = None) -> None:
        self.settings = settings
        self.secrets = secrets or SecretCache()
        self.clients = OpenAIClients(settings.openai_timeout_seconds)

    def restored(self) -> None:
        """After a SnapStart restore: a pool of this sandbox's own, the secrets read afresh."""
        self.clients.renew()
        self.secrets.clear()

    def create_session(self, user_id: str, thread_id: str | None = None) -> CreatedSession:
        """A new ChatKit session for ``user_id``; records ``thread_id`` as theirs when given.

        Raises ``NotConfigured`` (no workflow id or key), ``UpstreamRejected`` (key or request
        refused), ``RateLimited``, ``UpstreamTimeout``, ``UpstreamUnavailable``, ``InvalidInput``.
        """
        if thread_id is not None:
            validate_thread_id(thread_id)
        if not self.settings.workflow_id:
            raise NotConfigured(WORKFLOW_SETTING, WORKFLOW_HINT)
        client = self.clients.get(self._api_key())
        session = self._create(client, user_id)
        if thread_id is not None:
            upsert_thread(self.settings.threads_table, user_id, thread_id)
        logger.info(
            "chatkit session created", extra={"session_id": session.id, "expires_at": session.expires_at}
        )
        count("SessionsCreated")
        return CreatedSession(client_secret=session.client_secret, expires_at=session.expires_at)

    def request(self, user_id: str) -> dict[str, Any]:
        """The ``sessions.create`` arguments for ``user_id``, with a fresh MCP token."""
        signing_key = self.secrets.get(self.settings.token_signing_secret_id)
        if signing_key is None or not signing_key.value:
            raise NotConfigured("the token signing key", "TokenSigningSecret has no AWSCURRENT value.")
        workflow: dict[str, Any] = {
            "id": self.settings.workflow_id,
            "state_variables": {
                "user_id": user_id,
                "mcp_token": mint_mcp_token(user_id, signing_key.value, self.settings.session_seconds),
            },
        }
        if self.settings.workflow_version:
            workflow["version"] = self.settings.workflow_version
        return {
            "user": user_id,
            "workflow": workflow,
            "chatkit_configuration": self.settings.chatkit_configuration(),
            "expires_after": {"anchor": "created_at", "seconds": self.settings.session_seconds},
            "rate_limits": {"max_requests_per_1_minute": self.settings.rate_limit_per_minute},
        }

    def _api_key(self) -> str:
        return openai_api_key(self.secrets, self.settings.openai_key_secret_id)

    def _create(self, client: openai.OpenAI, user_id: str) -> Any:
        arguments = self.request(user_id)
        try:
            try:
                return client.beta.chatkit.sessions.create(**arguments)
            except (openai.APITimeoutError, openai.RateLimitError):
                raise
            except (openai.APIConnectionError, openai.InternalServerError) as first:
                logger.warning(
                    "openai session request failed, retrying once", extra={"error": type(first).__name__}
                )
                time.sleep(RETRY_PAUSE_SECONDS)
                return client.beta.chatkit.sessions.create(**arguments)
        except openai.APITimeoutError:
            raise UpstreamTimeout("OpenAI did not answer in time. Try again in a moment.") from None
        except openai.APIConnectionError:
            raise UpstreamUnavailable("OpenAI could not be reached. Try again in a moment.") from None
        except openai.RateLimitError as error:
            raise _rate_limit_error(error) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as error:
            _log_refusal(error)
            raise UpstreamRejected(
                "OpenAI rejected the server's API key. "
                "The operator must store a valid key in OpenAIApiKeySecret."
            ) from None
        except openai.NotFoundError as error:
            _log_refusal(error)
            raise UpstreamRejected(
                "OpenAI does not know the configured ChatKit workflow. "
                "Check ChatKitWorkflowId (and its version)."
            ) from None
        except openai.APIStatusError as error:
            _log_refusal(error)
            if error.status_code >= 500:
                raise UpstreamUnavailable(
                    "OpenAI failed to create the session. Try again in a moment."
                ) from None
            raise UpstreamRejected(
                f"OpenAI refused the session request (status {error.status_code}). "
                "Check the ChatKit session parameters."
            ) from None
        except openai.APIResponseValidationError:
            raise UpstreamUnavailable("OpenAI answered with an unexpected session object.") from None


def _rate_limit_error(error: openai.RateLimitError) -> RateLimited | UpstreamRejected:
    if error.code == "insufficient_quota":
        # Not a burst: waiting will not help until the account's billing changes.
        _log_refusal(error)
        return UpstreamRejected("OpenAI refused the request: the account's quota is used up.")
    return RateLimited("OpenAI is rate limiting new chat sessions. Try again shortly.", _retry_after(error))


def _retry_after(error: openai.APIStatusError) -> int:
    return retry_after_seconds(error.response.headers)


def _log_refusal(error: openai.APIStatusError) -> None:
    # Status, OpenAI's error code and request id identify the failure; the message may quote the key.
    logger.warning(
        "openai refused the session request",
        extra={"status": error.status_code, "code": error.code, "request_id": error.request_id},
    )
