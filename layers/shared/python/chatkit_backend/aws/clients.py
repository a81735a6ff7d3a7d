"""AWS clients, built once per container on first use, whose outages arrive as domain errors.

botocore honours AWS_ENDPOINT_URL, which is how the local stack and the tests point every client
at moto. Timeouts keep a failing dependency's cost inside every function's timeout (the 10 s
default, the authorizer's 5 s), so the caller reads a 503 instead of a gateway timeout:

- ``CLIENT_CONFIG``: connect 1 s, read 3 s, two attempts: at most about 9 s, retries included;
- ``FAIL_FAST_CONFIG``: connect 0.5 s, read 1 s, one attempt, for callers that have a recent
  copy to fall back on (the secret cache), so a refresh during an outage costs one request ~1.5 s.

A failure that says nothing about the request (no connection, a timeout, a 5xx, throttling) is
raised as ``DependencyUnavailable`` (HTTP 503 with Retry-After); every other ``ClientError``
(a failed condition, a validation error, access denied) stays as botocore raised it, for the
caller to handle or to surface as the bug it is.
"""

from __future__ import annotations

import time
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from chatkit_backend.errors import DependencyUnavailable

CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=3,
    retries={"mode": "standard", "total_max_attempts": 2},
)
FAIL_FAST_CONFIG = Config(
    connect_timeout=0.5,
    read_timeout=1,
    retries={"mode": "standard", "total_max_attempts": 1},
)
# Presigned S3 URLs must be SigV4 (botocore still presigns SigV2 by default in us-east-1), and
# SigV4 signs content-type, content-length and x-amz-tagging, so a client cannot upload something
# else than what the server agreed to.
SERVICE_CONFIG = {"s3": Config(signature_version="s3v4")}
# BatchWriteItem takes at most 25 requests.
BATCH_WRITE_SIZE = 25

# Error codes that mean "busy or broken, try later" whatever their HTTP status (throttling is a 400).
OUTAGE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)


def client(service: str, *, fail_fast: bool = False) -> Any:
    """The container's client for ``service`` ("dynamodb", "secretsmanager", "s3").

    Built with botocore directly: a boto3 client is this same botocore client, and skipping
    boto3's import (resources, S3 transfer hooks) takes a fifth off a cold start's SDK cost.
    """
    key = (service, fail_fast)
    built = _clients.get(key)
    if built is None:
        config = FAIL_FAST_CONFIG if fail_fast else CLIENT_CONFIG
        if service in SERVICE_CONFIG:
            config = config.merge(SERVICE_CONFIG[service])
        built = _clients[key] = OutageAwareClient(
            service, _botocore_session().create_client(service, config=config)
        )
    return built


_clients: dict[tuple[str, bool], OutageAwareClient] = {}
_session: botocore.session.Session | None = None
_hooks_registered = False


def _botocore_session() -> botocore.session.Session:
    global _session
    if _session is None:
        _session = botocore.session.get_session()
    return _session


def _cache_clear() -> None:
    global _session
    _clients.clear()
    _session = None


# Tests (and a new container) start from no clients at all.
client.cache_clear = _cache_clear  # type: ignore[attr-defined]


def prepare(*services: str) -> None:
    """Build the function's clients now, at init, so that a cold start (or the SnapStart
    snapshot) holds them, and have them renewed whenever a sandbox resumes from a snapshot."""
    global _hooks_registered
    for service in services:
        client(service)
    if not _hooks_registered:
        from chatkit_backend.aws import snapstart

        snapstart.register_before_snapshot(close_connections)
        snapstart.register_after_restore(renew)
        _hooks_registered = True


def close_connections() -> None:
    """Close every client's pooled connections: none opened at init may outlive the snapshot."""
    for built in _clients.values():
        built.close()


def renew() -> None:
    """New clients in place of every client built so far: new connection pools, and credentials
    resolved afresh by a new botocore session. The new session shares the old one's loader (the
    parsed service models, the slow part of building a client), so this costs milliseconds."""
    global _session
    keys = list(_clients)
    loader = _botocore_session().get_component("data_loader")
    _clients.clear()
    _session = botocore.session.get_session()
    _session.register_component("data_loader", loader)
    for service, fail_fast in keys:
        client(service, fail_fast=fail_fast)


def is_condition_failure(error: ClientError) -> bool:
    """Whether DynamoDB refused a request because its condition did not hold."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def batch_write(table: str, requests: list[dict[str, Any]]) -> None:
    """Put and delete requests on ``table`` by BatchWriteItem, 25 a request (its ceiling),
    retrying what DynamoDB leaves unprocessed with a short backoff."""
    for index in range(0, len(requests), BATCH_WRITE_SIZE):
        pending = requests[index : index + BATCH_WRITE_SIZE]
        for attempt in range(5):
            response = client("dynamodb").batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            time.sleep(0.05 * 2**attempt)
        else:
            raise RuntimeError(f"DynamoDB left {len(pending)} writes unprocessed five times")


def outage(service: str, error: Exception) -> DependencyUnavailable | None:
    """``error`` as ``DependencyUnavailable`` when it is an outage of ``service``, else None."""
    if isinstance(error, (BotocoreConnectionError, HTTPClientError)):
        return DependencyUnavailable(service, type(error).__name__)
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in OUTAGE_CODES or status >= 500:
            return DependencyUnavailable(service, f"{code or 'HTTP'} {status}".strip())
    return None


class OutageAwareClient:
    """A botocore client whose operations raise ``DependencyUnavailable`` on an outage.

    Everything else (``meta``, ``exceptions``, error classes, waiters) is the client's own, so
    tests can stub its transport through ``meta.events`` as they would any botocore client.
    """

    def __init__(self, service: str, inner: Any) -> None:
        self.service = service
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or name in ("meta", "exceptions") or not callable(attribute):
            return attribute
        service = self.service

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except Exception as error:
                unavailable = outage(service, error)
                if unavailable is None:
                    raise
                raise unavailable from error

        call.__name__ = name
        # Built once per operation name: the warm path pays one attribute lookup, no closure.
        setattr(self, name, call)
        return call
