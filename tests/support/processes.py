"""Child processes the tests start (the local stack, the Better Auth app), stopped the same way,
and a lock for what only one test process may do at a time (pytest -n runs several)."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def stop(process: subprocess.Popen[Any]) -> None:
    """Ask a child process to stop, and kill it if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def one_at_a_time(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock named after ``directory`` for the block, across processes (closing
    the file releases it). The lock file lives in the temp folder: whatever the block deletes in
    ``directory``, the lock stays."""
    name = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"chatkit-tests-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
