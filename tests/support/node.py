"""The Node.js projects the tests run (the Better Auth app, the IAM simulator, the MCP Apps host,
the conformance suite, the task view's build): one way to find node and to install a project from
its lock file.

They need Node.js 20 or newer and the npm registry: ``npm ci`` installs exactly what the
project's package-lock.json pins the first time, and again whenever the lock file changes, so a
fresh clone's ``make test`` installs them by itself. Without node, a test that needs one is
skipped and says why; under ``CI=true`` it fails instead, so CI never passes by skipping it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import one_at_a_time

MIN_NODE = 20


def node_problem() -> str | None:
    """Why the Node.js projects cannot run here, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are not installed: the tests that run Node.js projects need them"
    version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    found = re.match(r"v(\d+)\.", version)
    if found is None or int(found.group(1)) < MIN_NODE:
        return f"Node.js {MIN_NODE}+ is needed for the tests' Node.js projects, found {version or 'none'}"
    return None


def require_node() -> None:
    """Skip the calling test without node, or fail it under CI=true."""
    problem = node_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{problem} (CI=true: this test may not be skipped)")
    pytest.skip(problem)


def npm_ci(project: Path) -> None:
    """``npm ci`` in ``project`` unless its node_modules already holds exactly what package-lock.json
    pins; one process at a time (pytest -n runs several), since ``npm ci`` first deletes node_modules."""
    lock = (project / "package-lock.json").read_bytes()
    stamp = project / "node_modules" / ".installed-from-lock"
    with one_at_a_time(project):
        if stamp.exists() and stamp.read_bytes() == lock:
            return
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci failed in {project}:\n{done.stderr[-4000:]}")
        stamp.write_bytes(lock)


def run_node(project: Path, *arguments: str) -> None:
    """``node <arguments>`` in ``project`` (a build script, say); its stderr when it fails."""
    done = subprocess.run(
        ["node", *arguments], cwd=project, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"node {' '.join(arguments)} failed in {project}:\n{done.stderr[-4000:]}")
