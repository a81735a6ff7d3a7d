from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.standins.openai import fake_responses
from tests.support.chat import StackChat
from tests.support.local_stack import RunningStack, start_stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[RunningStack]:
    """One `make dev` stack with default settings, shared by the tests that need no other."""
    with start_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def chat() -> Iterator[StackChat]:
    """A stack whose model is the Responses stand-in, and a ChatKit client for alice and bob."""
    with (
        fake_responses() as fake,
        start_stack({"OPENAI_BASE_URL": fake.url, "OPENAI_API_KEY": "sk-test-local"}) as stack,
    ):
        yield StackChat(stack.url, {user: stack.user_token(user) for user in ("alice", "bob")}, stack, fake)
