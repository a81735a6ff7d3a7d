"""ChatKitFunction's settings, read once per container from its template environment."""

from __future__ import annotations

from dataclasses import dataclass

from chatkit_backend.settings import env_int, env_list, env_str
from chatkit_backend.usage import UsageSettings

DEFAULT_MODEL = "gpt-4.1-mini"
# Per OpenAI attempt (one retry), well inside the function's 120 s: a stuck upstream ends as a
# ChatKit error event, not as a cut stream.
DEFAULT_OPENAI_TIMEOUT_SECONDS = 45
DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
DEFAULT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ChatKitSettings:
    chatkit_table: str
    model: str
    openai_api_key_secret_arn: str
    # The OpenAI SDK's own variable; empty means api.openai.com.
    openai_base_url: str
    allowed_origins: tuple[str, ...]
    openai_timeout_seconds: float
    # Per-user limits: turns per minute, tokens per day (UsageTable).
    usage: UsageSettings
    # Where attachments live (private S3 bucket); empty answers attachment requests with a 503.
    attachments_bucket: str = ""
    attachment_max_bytes: int = DEFAULT_ATTACHMENT_MAX_BYTES
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL

    @classmethod
    def from_env(cls) -> ChatKitSettings:
        return cls(
            chatkit_table=env_str("CHATKIT_TABLE"),
            model=env_str("CHATKIT_MODEL", DEFAULT_MODEL),
            openai_api_key_secret_arn=env_str("OPENAI_API_KEY_SECRET_ARN"),
            openai_base_url=env_str("OPENAI_BASE_URL"),
            allowed_origins=env_list("ALLOWED_ORIGINS"),
            openai_timeout_seconds=float(env_int("CHATKIT_OPENAI_TIMEOUT_SECONDS", DEFAULT_OPENAI_TIMEOUT_SECONDS)),
            usage=UsageSettings.from_env(),
            attachments_bucket=env_str("ATTACHMENTS_BUCKET"),
            attachment_max_bytes=env_int("ATTACHMENT_MAX_BYTES", DEFAULT_ATTACHMENT_MAX_BYTES),
            transcription_model=env_str("TRANSCRIPTION_MODEL", DEFAULT_TRANSCRIPTION_MODEL),
        )
