from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_stack import RunningStack, start_stack


@pytest.fixture(scope="session")
def local_stack() -> Iterator[RunningStack]:
    """One `make dev` stack with default settings, shared by the tests that need no other."""
    with start_stack() as stack:
        yield stack
