"""TEMPORARY stand-ins for the lead's shared `aws` / `invoke` fixtures (same API); removed when main lands them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cfnlint.decode
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


class _Aws:
    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids

    def physical_id(self, logical_id: str) -> str:
        return self.ids[logical_id]

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def function_env(self, logical_id: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
        env = {"TASKS_TABLE": self.ids["TasksTable"], "ALLOWED_ORIGINS": "http://localhost:3000"}
        env.update(overrides or {})
        return env


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Aws]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    template, _ = cfnlint.decode.decode(str(ROOT / "template.yaml"))
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ids = {}
        for logical_id in ("TasksTable",):
            props = dict(template["Resources"][logical_id]["Properties"])
            keep = ("AttributeDefinitions", "KeySchema", "LocalSecondaryIndexes", "BillingMode")
            ddb.create_table(TableName=logical_id, **{k: v for k, v in props.items() if k in keep})
            ids[logical_id] = logical_id
        yield _Aws(ids)


@pytest.fixture
def invoke(aws: _Aws, monkeypatch: pytest.MonkeyPatch) -> Any:
    from chatkit_backend import aws as aws_clients

    aws_clients.client.cache_clear()
    loaded: dict[str, Any] = {}

    def run(logical_id: str, event: dict[str, Any], env_overrides: dict[str, str] | None = None) -> Any:
        assert logical_id == "McpFunction"
        for name, value in aws.function_env(logical_id, env_overrides).items():
            monkeypatch.setenv(name, value)
        key = repr(sorted((env_overrides or {}).items()))
        if key not in loaded:
            spec = importlib.util.spec_from_file_location("mcp_app_under_test", ROOT / "functions/mcp/app.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules.pop("mcp_app_under_test", None)
            spec.loader.exec_module(module)
            loaded[key] = module.handler
        return loaded[key](event, None)

    return run
