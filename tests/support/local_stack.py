"""`make dev`'s server in a subprocess, for tests that drive the API over HTTP as a user would."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.emulator.stack import LocalAws, dev_process
from local.emulator.token import mint_user_token


@dataclass
class RunningStack:
    url: str
    demo_url: str
    aws_endpoint_url: str
    region: str
    resources: dict[str, str]
    log_path: Path
    state_dir: Path
    process: subprocess.Popen[bytes]

    def client(self, service: str) -> Any:
        """A boto3 client for the stack's moto, built as the local tools build theirs."""
        return LocalAws(self.aws_endpoint_url, self.region).client(service)

    def physical_id(self, logical_id: str) -> str:
        return self.resources[logical_id]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def user_token(self, user_id: str) -> str:
        """A user token this stack accepts for ``user_id``, as `make token USER=<id>` prints it."""
        secret = self.client("secretsmanager").get_secret_value(
            SecretId=self.physical_id("UserTokenSecret"), VersionStage="AWSCURRENT"
        )["SecretString"]
        return mint_user_token(secret, user_id)

    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        """Whether ``text`` shows up in the stack's log within ``timeout`` seconds (the gateway
        writes a request's line just after the response has gone out)."""
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def environment(self) -> dict[str, str]:
        """Environment for a tool (`make token`, `make invoke`) that should find this stack."""
        return {**os.environ, "LOCAL_STATE_DIR": str(self.state_dir)}


@contextmanager
def start_stack(
    env: dict[str, str] | None = None, timeout: float = 60.0, port: int | None = None
) -> Iterator[RunningStack]:
    """Run `python -m local.emulator.dev` with ``env`` on ``port`` (default: a free one) until the block ends."""
    with dev_process(env, port=port or 0, timeout=timeout) as dev:
        state = dev.state
        yield RunningStack(
            url=state["url"],
            demo_url=state["demo_url"],
            aws_endpoint_url=state["aws_endpoint_url"],
            region=state["region"],
            resources=state["resources"],
            log_path=dev.log_path,
            state_dir=dev.state_dir,
            process=dev.process,
        )
