"""API Gateway HTTP API (payload 2.0) events: what the local gateway sends, and what tests build.

Shapes follow API Gateway's documented payload 2.0 for Lambda integrations and for Lambda
authorizers: lower-cased headers with repeated values joined by commas, cookies split out,
empty parts omitted, and the authorizer's context under ``requestContext.authorizer.lambda``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from local.template import ACCOUNT_ID, API_ID, REGION

DOMAIN = "127.0.0.1"


def request_context(
    method: str, path: str, route_key: str, headers: dict[str, str], source_ip: str
) -> dict[str, Any]:
    now = time.time()
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": headers.get("host", DOMAIN),
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": uuid.uuid4().hex[:20],
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }


def _common(
    method: str,
    path: str,
    raw_query: str,
    headers: dict[str, str],
    route_key: str,
    path_params: dict[str, str] | None,
    source_ip: str,
) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in headers.items()}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = request_context(method, path, route_key, headers, source_ip)
    if path_params:
        event["pathParameters"] = path_params
    return event


def gateway_event(
    method: str,
    path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    route_key: str,
    path_params: dict[str, str] | None = None,
    authorizer_context: dict[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The integration event for one request."""
    event = _common(method, path, raw_query, headers, route_key, path_params, source_ip)
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer_context}
    if body:
        try:
            event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["isBase64Encoded"] = False
    return event


def authorizer_event(
    method: str,
    path: str,
    raw_query: str,
    headers: dict[str, str],
    identity: list[str],
    *,
    route_key: str,
    path_params: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The payload-2.0 REQUEST event API Gateway sends a Lambda authorizer."""
    event = _common(method, path, raw_query, headers, route_key, path_params, source_ip)
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/$default/{method}{path}",
        "identitySource": identity,
        **event,
    }
    return event


def http_event(
    method: str,
    path: str,
    *,
    body: str | bytes | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    user_id: str | None = "user-1",
    token_use: str = "user",
    expires_at: int | None = None,
    route_key: str | None = None,
) -> dict[str, Any]:
    """A test's event for ``method path`` as the authorizer would have let ``user_id`` through
    (with a session token's ``expires_at`` when given)."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers.setdefault("content-type", "application/json")
    raw_body = body.encode() if isinstance(body, str) else body
    if raw_body is not None:
        headers.setdefault("content-length", str(len(raw_body)))
    context: dict[str, str] | None = None
    if user_id is not None:
        context = {"user_id": user_id, "token_use": token_use}
        if expires_at is not None:
            context["expires_at"] = str(expires_at)
    return gateway_event(
        method.upper(),
        path,
        urlencode(query or {}),
        headers,
        raw_body,
        route_key=route_key or f"{method.upper()} {path}",
        path_params=path_params,
        authorizer_context=context,
    )


# ---- REST API (payload 1.0): what a REST route's authorizer and integration see ----------
REST_API_ID = "localrest"


def rest_request_context(
    method: str, path: str, resource: str, stage: str, headers: dict[str, str], source_ip: str
) -> dict[str, Any]:
    """A REST API ``requestContext``; the gateway adds ``authorizer`` once the request is allowed."""
    now = time.time()
    return {
        "accountId": ACCOUNT_ID,
        "apiId": REST_API_ID,
        "domainName": headers.get("host", DOMAIN),
        "domainPrefix": REST_API_ID,
        "extendedRequestId": uuid.uuid4().hex[:16],
        "httpMethod": method,
        "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": str(uuid.uuid4()),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": "local",
        "resourcePath": resource,
        "stage": stage,
    }


def rest_authorizer_event(
    method: str,
    path: str,
    raw_query: str,
    headers: dict[str, str],
    *,
    resource: str,
    stage: str,
    path_params: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The REQUEST event API Gateway REST API sends a Lambda authorizer (it answers with a policy)."""
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{REST_API_ID}/{stage}/{method}{path}",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": rest_request_context(method, path, resource, stage, headers, source_ip),
    }
