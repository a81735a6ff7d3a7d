"""Child processes the tests start (the local stack, the Better Auth app), stopped the same way."""

from __future__ import annotations

import subprocess
from typing import Any


def stop(process: subprocess.Popen[Any]) -> None:
    """Ask a child process to stop, and kill it if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
