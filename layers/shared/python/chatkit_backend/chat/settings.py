"""ChatKitFunction's settings, read once per container from its template environment."""

from __future__ import annotations

from dataclasses import dataclass

from chatkit_backend.limits import ATTACHMENT_MAX_BYTES_DEFAULT
from chatkit_backend.settings import EnvSettings, env
from chatkit_backend.users.usage import UsageSettings

DEFAULT_MODEL = "gpt-4.1-mini"
# Per OpenAI attempt (one retry), well inside the function's 120 s: a stuck upstream ends as a
# ChatKit error event, not as a cut stream.
DEFAULT_OPENAI_TIMEOUT_SECONDS = 45
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"


@dataclass(frozen=True)
class ChatKitSettings(EnvSettings):
    chatkit_table: str = env("CHATKIT_TABLE")
    # The TasksTable the agent's tools and the widgets' Complete buttons change.
    tasks_table: str = env("TASKS_TABLE")
    openai_api_key_secret_arn: str = env("OPENAI_API_KEY_SECRET_ARN")
    # The OpenAI SDK's own variable; empty means api.openai.com.
    openai_base_url: str = env("OPENAI_BASE_URL")
    allowed_origins: tuple[str, ...] = env("ALLOWED_ORIGINS")
    # Per-user limits: turns per minute, tokens per day (UsageTable).
    usage: UsageSettings
    model: str = env("CHATKIT_MODEL", DEFAULT_MODEL)
    openai_timeout_seconds: float = env(
        "CHATKIT_OPENAI_TIMEOUT_SECONDS", float(DEFAULT_OPENAI_TIMEOUT_SECONDS)
    )
    # Where attachments live (private S3 bucket); empty answers attachment requests with a 503.
    attachments_bucket: str = env("ATTACHMENTS_BUCKET", "")
    attachment_max_bytes: int = env("ATTACHMENT_MAX_BYTES", ATTACHMENT_MAX_BYTES_DEFAULT)
    transcription_model: str = env("TRANSCRIPTION_MODEL", DEFAULT_TRANSCRIPTION_MODEL)
