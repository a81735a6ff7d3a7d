"""Every AWS call a function makes, as IAM sees it, and a record of them per function.

IAM authorizes a call as one or more requests: an action (``dynamodb:Query``), the resource it
touches as an ARN (the table, or ``table/<t>/index/<i>`` for a Query on an index; a secret; an
S3 object ``bucket/key``) and the condition keys the call carries (``s3:prefix`` of a listing).
``iam_requests`` turns a call (service, operation, API parameters) into those requests. The
recorder (tests: ``install`` and ``running``) and the local stack's enforcement
(``local.emulator.iam_enforcement``, in moto's process) both use it, so what is checked is what is run.

Presigning is a use of the action: a presigned PUT acts with the signer's rights when the
browser sends it, so signing one is recorded as the signer's ``s3:PutObject``.

Records are distinct calls, one JSON line each, appended to ``calls-<pid>.jsonl`` in the
directory ``LOCAL_CALL_LOG_DIR`` names: one file per process (pytest-xdist workers, the local
stack's moto), combined by ``read``.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.template import ACCOUNT_ID, REGION, Template

LOG_DIR_VARIABLE = "LOCAL_CALL_LOG_DIR"

# Secrets Manager ends every secret's ARN with six random characters; recorded ARNs (and the
# roles the check resolves) carry this suffix instead, so calls recorded against different
# stacks (each test creates its secrets anew) name the same secret.
SECRET_SUFFIX = re.compile(r"(:secret:.+)-[A-Za-z0-9]{6}$")
CANONICAL_SECRET_SUFFIX = "-000000"


@dataclass(frozen=True, order=True)
class IamRequest:
    """One request IAM authorizes: the action, the resource ARN and the call's condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, order=True)
class Call:
    """An ``IamRequest`` made by a function (its logical id)."""

    function: str
    request: IamRequest


def iam_requests(
    service: str,
    operation: str,
    params: dict[str, Any],
    region: str = REGION,
    secret_arns: Mapping[str, str] | None = None,
) -> list[IamRequest]:
    """What IAM authorizes for ``operation`` of ``service`` (its signing name: dynamodb,
    secretsmanager, s3) called with the API ``params``. ``secret_arns`` maps the names of the
    secrets that exist to their ARNs (IAM sees a secret named by its name as its full ARN)."""
    if service == "dynamodb":
        return _dynamodb(operation, params, region)
    if service == "s3":
        return _s3(operation, params)
    if service == "secretsmanager" and "SecretId" in params:
        arn = _secret_arn(str(params["SecretId"]), region, secret_arns or {})
        return [IamRequest(f"secretsmanager:{operation}", arn)]
    return [IamRequest(f"{service}:{operation}", "*")]


def _dynamodb(operation: str, params: dict[str, Any], region: str) -> list[IamRequest]:
    def table(name: str, index: str | None = None) -> str:
        if name.startswith("arn:"):
            return name
        arn = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
        return f"{arn}/index/{index}" if index else arn

    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [
            IamRequest(f"dynamodb:{operation}", table(name))
            for name in sorted(params.get("RequestItems", {}))
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        # IAM authorizes each item's own action, not the transaction.
        actions = {"ConditionCheck": "ConditionCheckItem", "Put": "PutItem", "Update": "UpdateItem"}
        actions |= {"Delete": "DeleteItem", "Get": "GetItem"}
        return sorted(
            {
                IamRequest(f"dynamodb:{actions[kind]}", table(item[kind]["TableName"]))
                for item in params.get("TransactItems", [])
                for kind in item
            }
        )
    if "TableName" in params:
        return [IamRequest(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    return [IamRequest(f"dynamodb:{operation}", "*")]


# S3 operations whose IAM action has another name.
S3_ACTIONS = {
    "HeadObject": "GetObject",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
}


def _s3(operation: str, params: dict[str, Any]) -> list[IamRequest]:
    bucket = str(params.get("Bucket", ""))

    def object_arn(key: str) -> str:
        return f"arn:aws:s3:::{bucket}/{key}"

    if operation == "DeleteObjects":
        # One s3:DeleteObject per key: a bulk delete needs nothing more.
        keys = [str(o["Key"]) for o in params.get("Delete", {}).get("Objects", [])]
        return sorted({IamRequest("s3:DeleteObject", object_arn(key)) for key in keys})
    action = f"s3:{S3_ACTIONS.get(operation, operation)}"
    if "Key" not in params:
        context = (("s3:prefix", str(params["Prefix"])),) if "Prefix" in params else ()
        return [IamRequest(action, f"arn:aws:s3:::{bucket}", context)]
    requests = [IamRequest(action, object_arn(str(params["Key"])))]
    if operation == "PutObject" and params.get("Tagging"):
        # A PUT that tags the object needs the tagging right too.
        requests.append(IamRequest("s3:PutObjectTagging", object_arn(str(params["Key"]))))
    return requests


def _secret_arn(secret_id: str, region: str, known: Mapping[str, str]) -> str:
    """A secret's ARN. Named by its name (Secrets Manager takes either), it is the ARN ``known``
    gives, or else the name with the canonical suffix (what the recorder's roles name)."""
    if secret_id.startswith("arn:"):
        return secret_id
    arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret_id}{CANONICAL_SECRET_SUFFIX}"
    return known.get(secret_id, arn)


def canonical(resource: str) -> str:
    """``resource`` with a secret's random suffix replaced by ``CANONICAL_SECRET_SUFFIX``."""
    return SECRET_SUFFIX.sub(rf"\1{CANONICAL_SECRET_SUFFIX}", resource)


def canonical_physical_ids(template: Template) -> dict[str, str]:
    """The ids the local stack gives the template's tables, buckets and secrets, with secrets'
    ARNs in their ``canonical`` form: what recorded calls name."""
    from local.emulator.resources import physical_name

    ids = {}
    for kind in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"):
        for logical_id in template.resources_of_type(kind):
            ids[logical_id] = physical_name(template, logical_id)
    for logical_id in template.resources_of_type("AWS::SecretsManager::Secret"):
        ids[logical_id] = _secret_arn(ids[logical_id], template.region, {})
    return ids


# ---- the record ---------------------------------------------------------------------------------
class CallLog:
    """The distinct calls of this process, appended to ``<directory>/calls-<pid>.jsonl`` as first seen."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seen: set[Call] = set()
        self._lock = threading.Lock()

    def calls(self) -> set[Call]:
        """The calls recorded so far by this process."""
        with self._lock:
            return set(self._seen)

    def add(self, function: str, requests: Iterable[IamRequest]) -> None:
        new = []
        with self._lock:
            for request in requests:
                call = Call(
                    function, IamRequest(request.action, canonical(request.resource), request.context)
                )
                if call not in self._seen:
                    self._seen.add(call)
                    new.append(call)
            if new:
                self.directory.mkdir(parents=True, exist_ok=True)
                with open(self.directory / f"calls-{os.getpid()}.jsonl", "a") as out:
                    out.writelines(json.dumps(_as_json(call)) + "\n" for call in new)


def _as_json(call: Call) -> dict[str, Any]:
    request = call.request
    return {
        "function": call.function,
        "action": request.action,
        "resource": request.resource,
        "context": dict(request.context),
    }


def read(directory: Path) -> set[Call]:
    """Every call recorded in ``directory``, by every process."""
    calls = set()
    for path in sorted(directory.glob("calls-*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                request = IamRequest(
                    entry["action"], entry["resource"], tuple(sorted(entry["context"].items()))
                )
                calls.add(Call(entry["function"], request))
    return calls


def log_from_environment() -> CallLog | None:
    """The call log ``LOCAL_CALL_LOG_DIR`` names, or None when calls are not recorded."""
    directory = os.environ.get(LOG_DIR_VARIABLE, "")
    return CallLog(Path(directory)) if directory else None


# ---- in-process recording (the function tests) --------------------------------------------------
_logs: list[CallLog] = []
# The function running now: per task or thread context (concurrent requests of an ASGI app), and
# the last one started, for threads that do not carry the context (a thread pool's).
_running: contextvars.ContextVar[str | None] = contextvars.ContextVar("running_function", default=None)
_last_started: str | None = None


def install(log: CallLog) -> None:
    """Record the calls every botocore session created from now on makes while a function runs.

    botocore registers ``BUILTIN_HANDLERS`` on each new session, as it does its own (moto's
    ``mock_aws`` hooks in the same way), so the layer's clients need no change.
    ``provide-client-params`` is emitted once per call, and for presigning too.
    """
    _logs[:] = [log]
    _hook()


def _hook() -> None:
    import botocore.handlers

    if ("provide-client-params", _on_call) not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(("provide-client-params", _on_call))


@contextmanager
def recording(log: CallLog) -> Iterator[CallLog]:
    """Record into ``log`` as well, meanwhile (a test that checks the calls it causes; only
    botocore sessions created from now on record)."""
    _hook()
    _logs.append(log)
    try:
        yield log
    finally:
        _logs.remove(log)


@contextmanager
def running(function: str) -> Iterator[None]:
    """Calls made meanwhile are ``function``'s."""
    global _last_started
    token = _running.set(function)
    previous, _last_started = _last_started, function
    try:
        yield
    finally:
        _running.reset(token)
        _last_started = previous


def _on_call(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    function = _running.get() or _last_started
    if function is None or not _logs:
        return
    region = context.get("client_region") or os.environ.get("AWS_REGION") or REGION
    requests = iam_requests(model.service_model.signing_name, model.name, params, region)
    for log in _logs:
        log.add(function, requests)
