"""The local stack's AWS refuses what a function's role does not allow, as AWS does.

Each function's sandboxes sign their requests with credentials of their own (``credentials``):
the access key id names the function. In front of moto, in its process, ``Enforcement`` reads
who signed each request (the ``Authorization`` header, or a presigned URL's ``X-Amz-Credential``,
so a browser's PUT acts with its signer's rights), which operation it is and its parameters
(with moto's own router and parsers, from the service's botocore model), turns them into the
requests IAM authorizes (``local.emulator.aws_calls.iam_requests``) and evaluates each against the
function's role (``local.emulator.iam.allows``, once per distinct request). A request its role does not
allow gets the answer AWS gives: DynamoDB's and Secrets Manager's ``AccessDeniedException``
(HTTP 400), S3's ``AccessDenied`` (HTTP 403), with AWS's message naming the role, the action
and the resource. Requests signed otherwise (the local tools, the tests' own clients) act as
the account's administrator, unchecked.

The stack hands moto the roles once it has created the resources (``register``): they are
``local.emulator.iam.function_roles`` of the template, resolved against the resources' real ids. When
``LOCAL_CALL_LOG_DIR`` is set, the functions' requests are recorded there too (the test suite's
least-privilege check).

moto's own IAM emulation cannot stand in: it authorizes DynamoDB and Secrets Manager requests
against the resource ``*`` (so an Allow on a table ARN denies), answers every denial with a
generic XML 403, and counts an Allow whose condition fails as a Deny.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from local.emulator import aws_calls
from local.emulator.aws_calls import IamRequest
from local.emulator.iam import Policy, Role, allows

ROLES_PATH = "/_local/iam/roles"
KEY_PREFIX = "LOCAL"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def credentials(function: str) -> dict[str, str]:
    """The AWS credentials a function's sandboxes sign with: the key id names the function."""
    return {
        "AWS_ACCESS_KEY_ID": f"{KEY_PREFIX}{function}",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
    }


def register(endpoint_url: str, roles: Iterable[Role], secret_arns: dict[str, str]) -> bool:
    """Hand ``roles`` to the local AWS at ``endpoint_url`` (and the secrets' ARNs by name, for a
    call that names a secret by its name); False when it does not enforce them (an AWS endpoint
    that is not the local stack's moto)."""
    import urllib.error
    import urllib.request

    roles_by_key = {
        credentials(role.function)["AWS_ACCESS_KEY_ID"]: {
            "function": role.function,
            "role": role.name,
            "policies": [
                {"name": p.name, "document": p.document, "managed": p.managed} for p in role.policies
            ],
        }
        for role in roles
    }
    body = json.dumps({"roles": roles_by_key, "secrets": secret_arns}).encode()
    request = urllib.request.Request(
        endpoint_url + ROLES_PATH, data=body, method="POST", headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 204
    except (urllib.error.URLError, OSError):
        return False


class Enforcement:
    """WSGI middleware in front of moto: checks every request a function signed against its role."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app
        self._roles: dict[str, Role] = {}
        self._secret_arns: dict[str, str] = {}
        self._decisions: dict[tuple[str, IamRequest], bool] = {}
        self._lock = threading.Lock()
        self._log = aws_calls.log_from_environment()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == ROLES_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self._register(environ, start_response)
        signer = _signer(environ)
        role = self._roles.get(signer[0]) if signer else None
        if signer is None or role is None:
            return self._app(environ, start_response)
        _, region, service = signer
        body = _buffered_body(environ)
        requests = _iam_requests(environ, body, service, region, self._secret_arns)
        if requests is None:
            return self._app(environ, start_response)
        if self._log is not None:
            self._log.add(role.function, requests)
        for request in requests:
            if not self._allowed(role, request):
                return _denied(start_response, service, role, request)
        return self._app(environ, start_response)

    def _allowed(self, role: Role, request: IamRequest) -> bool:
        key = (role.function, request)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions[key] = allows(role.policies, request)
        return decision

    def _register(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        registered = json.loads(_buffered_body(environ) or b"{}")
        roles = {
            key: Role(
                entry["function"],
                entry["role"],
                tuple(Policy(p["name"], p["document"], p["managed"]) for p in entry["policies"]),
            )
            for key, entry in registered["roles"].items()
        }
        with self._lock:
            self._roles, self._secret_arns = roles, dict(registered["secrets"])
            self._decisions = {}
        start_response("204 No Content", [])
        return []


def _signer(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key id, region, service) of the request's signature, from its header or its URL."""
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if found is None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = (query.get("X-Amz-Credential") or [""])[0]
        found = _CREDENTIAL.search(f"Credential={credential}")
    return None if found is None else (found.group(1), found.group(2), found.group(3))


def _buffered_body(environ: dict[str, Any]) -> bytes:
    """The request body, read once and put back for moto to read."""
    cached = environ.get("local.emulator.iam.body")
    if cached is not None:
        return cached
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["local.emulator.iam.body"] = body
    return body


def _iam_requests(
    environ: dict[str, Any], body: bytes, service: str, region: str, secret_arns: dict[str, str]
) -> list[IamRequest] | None:
    """What IAM authorizes for this request, from its operation and parameters (None: unknown)."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:  # the JSON protocol (DynamoDB, Secrets Manager): the body is the parameters
        operation = target.rsplit(".", 1)[-1]
        params = json.loads(body or b"{}")
    else:
        found = _rest_operation(environ, service)
        if found is None:
            return None
        operation, params = found
    return aws_calls.iam_requests(service, operation, params, region, secret_arns)


def _rest_operation(environ: dict[str, Any], service: str) -> tuple[str, dict[str, Any]] | None:
    """A REST request's operation and parameters, as moto routes and parses it (S3)."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import Request
    from moto.core.routing import get_service_router
    from werkzeug.exceptions import NotFound

    request = Request(environ)
    try:
        operation, uri_params = get_service_router(service).match(request)
    except (NotFound, NotImplementedError):
        return None
    parser = PROTOCOL_PARSERS[operation.service_model.protocol](operation)
    params = parser.parse(
        {
            "body": environ["local.emulator.iam.body"],
            "headers": request.headers,
            "method": request.method,
            "url_params": uri_params,
            "url_path": request.path,
            "values": request.args,
        }
    )
    return operation.name, params


def _denied(start_response: Callable[..., Any], service: str, role: Role, request: IamRequest) -> list[bytes]:
    """AWS's answer to a request the signer's policies do not allow."""
    message = (
        f"User: {role.principal} is not authorized to perform: {request.action} on resource: "
        f"{request.resource} because no identity-based policy allows the {request.action} action"
    )
    request_id = str(uuid.uuid4())
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{_xml_escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        status, content_type = "403 Forbidden", "application/xml"
    else:
        code = (
            "com.amazon.coral.service#AccessDeniedException"
            if service == "dynamodb"
            else "AccessDeniedException"
        )
        body = json.dumps({"__type": code, "Message": message}).encode()
        json_version = "1.0" if service == "dynamodb" else "1.1"
        status, content_type = "400 Bad Request", f"application/x-amz-json-{json_version}"
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
        ],
    )
    return [body]


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
