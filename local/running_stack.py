"""The running `make dev` stack, as local/dev.py records it in .local/stack.json.

Shared by `make token` and `make rotate`, which act on that stack's moto server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = ROOT / ".local" / "stack.json"
LAYER = ROOT / "layers" / "shared" / "python"


class StackNotRunning(Exception):
    """No local stack answers; the message says what to do."""


@dataclass(frozen=True)
class RunningStack:
    aws_endpoint_url: str
    region: str
    resources: dict[str, str]

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise StackNotRunning(f"the local stack has no {logical_id}; restart it with `make dev`") from None

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.aws_endpoint_url,
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def use_for_aws(self) -> None:
        """Point this process's boto3 clients (the shared layer's too) at the stack's moto server."""
        os.environ["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        os.environ["AWS_DEFAULT_REGION"] = self.region
        os.environ["AWS_REGION"] = self.region
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")


def running_stack(state_file: Path = STATE_FILE) -> RunningStack:
    """The stack `make dev` runs; ``StackNotRunning`` when there is none or it does not answer."""
    try:
        state = json.loads(state_file.read_text())
        stack = RunningStack(str(state["aws_endpoint_url"]), str(state["region"]), dict(state["resources"]))
    except (OSError, ValueError, KeyError, TypeError):
        raise StackNotRunning("no local stack is running: start it with `make dev` in another terminal") from None
    try:
        stack.client("sts").get_caller_identity()
    except Exception:
        raise StackNotRunning(
            f"the local stack recorded in {state_file.relative_to(ROOT)} does not answer at "
            f"{stack.aws_endpoint_url}: start it with `make dev`"
        ) from None
    return stack


def load_handler(folder: str) -> ModuleType:
    """``functions/<folder>/app.py`` imported as Lambda would, with the shared layer on the path."""
    if str(LAYER) not in sys.path:
        sys.path.insert(0, str(LAYER))
    name = f"_local_{folder}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / folder / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def lambda_context(function_name: str) -> Any:
    return SimpleNamespace(
        function_name=function_name,
        memory_limit_in_mb=512,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        aws_request_id=str(uuid.uuid4()),
    )
