"""Fixtures every test can use: AWS (moto, in-process) with the template's resources, and
in-process function invocation with each function's template environment."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from local.emulator import aws_calls
from local.emulator.resources import FAKE_CREDENTIALS, create_resources
from local.emulator.runtime import LambdaContext, function_environment, load_handler, marshal_response
from local.standins.jwks import JwksServer, SigningKey, new_key, serve_jwks
from local.template import ENV_TO_PARAMETER, REGION, Template

# Every AWS call a function makes is checked against its role when the session ends.
pytest_plugins = ["tests.support.least_privilege"]


def pytest_configure(config: pytest.Config) -> None:
    share_service_models()


def share_service_models() -> None:
    """One botocore loader for every botocore session in this process: its parsed service models.

    A test is a new Lambda container (the function's clients are built anew, from a new session),
    and ``mock_aws`` gives boto3 a new default session each time it starts; each new session would
    parse every service's model and the endpoint rules again (JSON files of megabytes), which was
    half of what an in-process function test cost. The models are read-only data: botocore shares
    them between the clients of a session, and ``chatkit_backend.aws.clients.renew`` between sessions.
    """
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


@dataclass
class AwsResources:
    """The template's tables and secrets, created in moto for one test."""

    template: Template

    def physical_id(self, logical_id: str) -> str:
        return self.template.physical_ids[logical_id]

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def template_with(self, overrides: dict[str, str] | None) -> Template:
        """The template with configuration variables (JWT_JWKS_URL, ...) set as parameters."""
        parameters = {ENV_TO_PARAMETER.get(k, k): v for k, v in (overrides or {}).items()}
        template = Template.load(parameters)
        template.physical_ids = dict(self.template.physical_ids)
        return template

    def function_env(self, logical_id: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
        return dict(self.template_with(overrides).functions()[logical_id].environment)


@contextmanager
def template_in_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    """A fresh in-process moto (``mock_aws``) holding the template's resources, for the block."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        resources = AwsResources(Template.load())
        create_resources(resources.template, functools.cache(resources.client))
        yield resources


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    with template_in_moto(monkeypatch) as resources:
        yield resources


Invoke = Callable[..., Any]


@pytest.fixture
def invoke(aws: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """``invoke(logical_id, event, env_overrides=None, context=None)``: the handler's result, in
    this process (``context`` replaces Lambda's, e.g. to run short of time).

    Each function is loaded fresh once per test, in its template environment, as a new Lambda
    container would be.
    """
    from chatkit_backend.aws import clients as aws_clients

    aws_clients.client.cache_clear()
    loaded: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}

    def run(
        logical_id: str,
        event: dict[str, Any],
        env_overrides: dict[str, str] | None = None,
        context: Any = None,
    ) -> Any:
        template = aws.template_with(env_overrides)
        spec = template.functions()[logical_id]
        for name, value in function_environment(spec, {}, REGION).items():
            if name not in os.environ or os.environ[name] != value:
                monkeypatch.setenv(name, value)
        key = (logical_id, tuple(sorted((env_overrides or {}).items())))
        with aws_calls.running(logical_id):
            if key not in loaded:
                loaded[key] = load_handler(spec)
            result = loaded[key](event, context or LambdaContext(spec, REGION))
        marshal_response(result)  # what Lambda's runtime could not send back fails here, as there
        return result

    return run


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    """A frontend's signing keys, one per accepted algorithm, generated once per test module
    (RSA generation is slow)."""
    return {algorithm: new_key(algorithm) for algorithm in ("EdDSA", "RS256", "ES256")}


@pytest.fixture(scope="module")
def jwks_server(keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    """The frontend's JWKS endpoint, served on 127.0.0.1 for this test module."""
    with serve_jwks([key.public_jwk for key in keys.values()]) as server:
        yield server


# ---- pytest-xdist (`make test` runs pytest -n 4; pyproject.toml sets --dist loadscope) --------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With -n, the modules that mostly wait (``integration``: `make dev` stacks; ``waits``) come
    first: each worker takes the next module in this order, so the in-process tests, which mostly
    compute, fill the waits, and no long wait starts last. Without -n the order stays as written."""
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: not any(item.get_closest_marker(m) for m in ("integration", "waits")))
