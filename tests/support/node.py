"""Node.js packages the tests run (the Better Auth app, the IAM simulator), each installed with
``npm ci`` from its own lock file. They need Node.js 20 or newer and the npm registry."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

MIN_NODE = 20


def node_problem(needed_by: str) -> str | None:
    """Why ``needed_by`` cannot run here, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return f"Node.js and npm are not installed: {needed_by} needs them"
    version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    found = re.match(r"v(\d+)\.", version)
    if found is None or int(found.group(1)) < MIN_NODE:
        return f"Node.js {MIN_NODE}+ is needed for {needed_by}, found {version or 'none'}"
    return None


def require_node(needed_by: str) -> None:
    """Skip the calling test without node, or fail it under CI=true."""
    problem = node_problem(needed_by)
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: this test may not be skipped)")
    pytest.skip(problem)


def npm_ci(directory: Path) -> None:
    """``npm ci`` in ``directory`` unless its node_modules holds exactly what package-lock.json pins."""
    lock = (directory / "package-lock.json").read_bytes()
    stamp = directory / "node_modules" / ".installed-from-lock"
    if stamp.exists() and stamp.read_bytes() == lock:
        return
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {directory}:\n{done.stderr[-4000:]}")
    stamp.write_bytes(lock)
