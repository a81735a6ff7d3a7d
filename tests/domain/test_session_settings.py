"""SessionFunction's configuration: what reaches sessions.create, and what is refused at start-up."""

from __future__ import annotations

import pytest
from chatkit_backend.sessions import SessionSettings


def settings_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> SessionSettings:
    for name in (
        "CHATKIT_HISTORY_ENABLED",
        "CHATKIT_HISTORY_RECENT_THREADS",
        "CHATKIT_AUTOMATIC_THREAD_TITLING",
        "CHATKIT_FILE_UPLOAD_ENABLED",
        "CHATKIT_FILE_UPLOAD_MAX_FILES",
        "CHATKIT_FILE_UPLOAD_MAX_FILE_SIZE_MB",
        "CHATKIT_SESSION_SECONDS",
        "CHATKIT_RATE_LIMIT_PER_MINUTE",
        "OPENAI_TIMEOUT_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return SessionSettings.from_env()


def test_defaults_are_openais_defaults_with_the_longest_session(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(monkeypatch)
    assert settings.session_seconds == 600
    assert settings.rate_limit_per_minute == 10
    assert settings.chatkit_configuration() == {
        "history": {"enabled": True},
        "automatic_thread_titling": {"enabled": True},
        "file_upload": {"enabled": False},
    }


def test_every_parameter_reaches_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(
        monkeypatch,
        CHATKIT_HISTORY_ENABLED="true",
        CHATKIT_HISTORY_RECENT_THREADS="5",
        CHATKIT_AUTOMATIC_THREAD_TITLING="false",
        CHATKIT_FILE_UPLOAD_ENABLED="true",
        CHATKIT_FILE_UPLOAD_MAX_FILES="3",
        CHATKIT_FILE_UPLOAD_MAX_FILE_SIZE_MB="20",
        CHATKIT_SESSION_SECONDS="300",
        CHATKIT_RATE_LIMIT_PER_MINUTE="30",
    )
    assert settings.chatkit_configuration() == {
        "history": {"enabled": True, "recent_threads": 5},
        "automatic_thread_titling": {"enabled": False},
        "file_upload": {"enabled": True, "max_files": 3, "max_file_size": 20},
    }
    assert (settings.session_seconds, settings.rate_limit_per_minute) == (300, 30)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CHATKIT_SESSION_SECONDS", "601", "CHATKIT_SESSION_SECONDS"),
        ("CHATKIT_SESSION_SECONDS", "0", "CHATKIT_SESSION_SECONDS"),
        ("CHATKIT_SESSION_SECONDS", "ten", "CHATKIT_SESSION_SECONDS"),
        ("CHATKIT_HISTORY_RECENT_THREADS", "-1", "CHATKIT_HISTORY_RECENT_THREADS"),
        ("CHATKIT_FILE_UPLOAD_MAX_FILES", "0", "CHATKIT_FILE_UPLOAD_MAX_FILES"),
        ("CHATKIT_FILE_UPLOAD_MAX_FILE_SIZE_MB", "513", "CHATKIT_FILE_UPLOAD_MAX_FILE_SIZE_MB"),
        ("CHATKIT_RATE_LIMIT_PER_MINUTE", "0", "CHATKIT_RATE_LIMIT_PER_MINUTE"),
        ("CHATKIT_HISTORY_ENABLED", "maybe", "CHATKIT_HISTORY_ENABLED"),
        ("OPENAI_TIMEOUT_SECONDS", "0", "OPENAI_TIMEOUT_SECONDS"),
    ],
)
def test_values_openai_would_refuse_stop_the_function_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        settings_from(monkeypatch, **{name: value})
