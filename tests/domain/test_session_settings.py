"""SessionFunction's configuration: the session lifetime, and what is refused at start-up."""

from __future__ import annotations

import pytest
from chatkit_backend.chat.sessions import SessionService, SessionSettings
from chatkit_backend.errors import NotConfigured


def settings_from(monkeypatch: pytest.MonkeyPatch, **env: str) -> SessionSettings:
    monkeypatch.delenv("CHATKIT_SESSION_SECONDS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return SessionSettings.from_env()


def test_a_session_lives_ten_minutes_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from(monkeypatch).session_seconds == 600
    assert settings_from(monkeypatch, CHATKIT_SESSION_SECONDS="1").session_seconds == 1
    assert settings_from(monkeypatch, CHATKIT_SESSION_SECONDS="300").session_seconds == 300


@pytest.mark.parametrize("value", ["601", "0", "-5", "ten", "2.5", "86400"])
def test_a_lifetime_outside_1_to_600_seconds_stops_the_function_at_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    with pytest.raises(ValueError, match="CHATKIT_SESSION_SECONDS"):
        settings_from(monkeypatch, CHATKIT_SESSION_SECONDS=value)


def test_without_the_chats_url_a_session_is_refused_naming_the_setting() -> None:
    settings = SessionSettings(
        token_signing_secret_id="", chatkit_table="", chatkit_url="", session_seconds=600
    )

    with pytest.raises(NotConfigured, match="CHATKIT_URL"):
        SessionService(settings).create_session("alice")
