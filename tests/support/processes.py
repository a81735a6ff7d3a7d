"""A lock for what only one test process may do at a time (pytest -n runs several). Child
processes the tests start are stopped with ``local.emulator.runtime.stop``, as the bench stops its."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def one_at_a_time(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock named after ``directory`` for the block, across processes (closing
    the file releases it). The lock file lives in the temp folder: whatever the block deletes in
    ``directory``, the lock stays."""
    name = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"chatkit-tests-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
