"""Fixtures of the ChatKitFunction tests: the Responses/transcription stand-in and
the function's app in-process, with an OpenAI key in its secret."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.standins.openai import FakeResponses, fake_responses
from tests.support.chatkit_app import load_chatkit_app, set_openai_key


@pytest.fixture
def fake() -> Iterator[FakeResponses]:
    with fake_responses() as running:
        yield running


@pytest.fixture
def app(aws: Any, monkeypatch: pytest.MonkeyPatch, fake: FakeResponses) -> Any:
    set_openai_key(aws)
    return load_chatkit_app(aws, monkeypatch, {"OPENAI_BASE_URL": fake.url, "CHATKIT_MODEL": "gpt-test"})
