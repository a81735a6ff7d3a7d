"""McpFunction's server: Streamable HTTP transport rules and JSON-RPC dispatch for the task tools, with no state.

``McpServer.handle`` takes one API Gateway event (payload 2.0) and returns its response. ``/mcp``
is routed without the gateway authorizer: the token is checked here, by the resource server
(``auth.resource_server``, the same verifier code the authorizer runs), so that its 401s carry the
``WWW-Authenticate`` header MCP clients discover the authorization server from; the OAuth
Protected Resource Metadata (``GET /.well-known/oauth-protected-resource[/mcp]``) is answered here
too, so the discovery that follows a 401 lands on the warm container that answered it.

Every request stands alone: no session ids, nothing remembered between requests, so any container
answers any request. Checks run in this order: method, Origin, token (401), body size, media
types, JSON, protocol version, then the token's scopes for what the message asks (403), then the
call: the tool, from the catalogue of task tools (``tasks.tools``).

Era routing, as the reference SDK does it: an ``MCP-Protocol-Version`` header naming
2026-07-28 (or, without the header, a body whose ``params._meta`` carries the protocol
version) is a stateless-era request checked rung by rung (envelope, headers against body,
version); anything else is the ``initialize`` era, where a missing header means 2025-03-26.

A client that offers MCP Apps also gets the task view (``mcp.apps``): its resource, and the
tools' ``_meta.ui``; every other client sees exactly the tools and capabilities it always did.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any, Protocol

from chatkit_backend import __version__
from chatkit_backend.auth.resource_server import (
    METADATA_MAX_AGE_SECONDS,
    METADATA_PATH,
    Endpoint,
    McpAuthSettings,
    ResourceServer,
)
from chatkit_backend.auth.verifier import VerifierSettings
from chatkit_backend.errors import DependencyUnavailable, DomainError, RateLimited
from chatkit_backend.http.responses import HttpRefusal, json_response, json_text
from chatkit_backend.limits import MCP_BODY_MAX_BYTES
from chatkit_backend.mcp import apps
from chatkit_backend.mcp import protocol as p
from chatkit_backend.mcp.tools import LISTINGS
from chatkit_backend.observability.logs import log_dependency_failure, logger
from chatkit_backend.observability.metrics import count
from chatkit_backend.settings import EnvSettings, env
from chatkit_backend.tasks.tools import TOOLS_BY_NAME, ArgumentError, normalized_arguments
from chatkit_backend.users.usage import UsageLimits, UsageSettings

if TYPE_CHECKING:
    from chatkit_backend.tasks.service import TaskService

SERVER_NAME = "chatkit-tasks"
SERVER_TITLE = "ChatKit Tasks"
INSTRUCTIONS = (
    "Manage the signed-in user's todo tasks. Call list_tasks to find task ids before completing, "
    "updating or deleting a task; never guess an id."
)
# Clients may cache discovery and the tool list this long; the catalogue changes only on deploy
# and is the same for every user.
CATALOGUE_TTL_MS = 60_000
# What a client that offered MCP Apps may ask of its one resource, the task view.
RESOURCE_METHODS = frozenset({"resources/list", "resources/templates/list", "resources/read"})

NO_AUTHORIZATION_SERVER = (
    "No OAuth authorization server is configured for /mcp (set McpAuthorizationServer or JwtIssuer)."
)
OUTAGE_HINT = (
    "If you were changing a task, call list_tasks to see whether the change was made before trying again."
)

_SENTINEL = re.compile(r"^=\?base64\?(?P<payload>.*)\?=$")


class Credentials(Protocol):
    """A request's credentials. Both methods raise ``http.responses.HttpRefusal`` to refuse the request."""

    def user(self) -> str:
        """The user the request acts for."""
        ...

    def allow(self, writes: bool) -> None:
        """Refuses a message the credentials do not cover; ``writes``: it calls a tool that changes tasks."""
        ...


@dataclass(frozen=True)
class McpSettings(EnvSettings):
    allowed_origins: tuple[str, ...] = env("ALLOWED_ORIGINS")
    tasks_table: str = env("TASKS_TABLE")
    # The per-user tool-call limit (UsageTable).
    usage: UsageSettings
    max_body_bytes: int = env("MCP_MAX_BODY_BYTES", MCP_BODY_MAX_BYTES)


class RawJson(str):
    """A result encoded once per container: the catalogue answers (listings, discovery) are the
    same for every caller, and encoding a 4 kB listing is most of a tools/list call."""


def encode(body: Any) -> str:
    """The JSON text of a reply body, splicing in ``RawJson`` results as they are."""
    if isinstance(body, list):
        return "[" + ",".join(encode(item) for item in body) + "]"
    if isinstance(body, dict) and isinstance(body.get("result"), RawJson):
        return '{"jsonrpc":"2.0","id":' + json_text(body["id"]) + ',"result":' + body["result"] + "}"
    return json_text(body)


def _raw(result: dict[str, Any]) -> RawJson:
    return RawJson(json_text(result))


@dataclass
class HttpReply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _server_info(version: str) -> dict[str, str]:
    info = {"name": SERVER_NAME, "version": __version__}
    if p.version_at_least(version, "2025-06-18"):
        info["title"] = SERVER_TITLE
    return info


def _transport_error(status: int, message: str, code: int = p.INVALID_REQUEST, **headers: str) -> HttpReply:
    return HttpReply(status, p.error_message(None, p.RpcError(code, message)), headers)


def _refused(refusal: HttpRefusal) -> HttpReply:
    return _transport_error(refusal.status, refusal.message, **refusal.headers)


def _writes(message: Any) -> bool:
    """Whether the message (or any message of a batch) calls a tool that changes tasks."""
    for item in message if isinstance(message, list) else [message]:
        params = item.get("params") if isinstance(item, dict) and item.get("method") == "tools/call" else None
        name = params.get("name") if isinstance(params, dict) else None
        tool = TOOLS_BY_NAME.get(name) if isinstance(name, str) else None
        if tool is not None and not tool.annotations.get("readOnlyHint", False):
            return True
    return False


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _accepts_json(accept: str) -> bool:
    return any(
        _media_type(part) in ("application/json", "application/*", "*/*") for part in accept.split(",")
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _decode_header_value(value: str | None) -> str | None:
    """An ``Mcp-Name`` value, unwrapping the ``=?base64?...?=`` form clients use for non-ASCII."""
    if value is None:
        return None
    match = _SENTINEL.fullmatch(value)
    if match is None:
        return value
    try:
        return base64.b64decode(match.group("payload"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _has_modern_meta(message: Any) -> bool:
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return isinstance(meta, dict) and p.PROTOCOL_VERSION_META_KEY in meta


@dataclass(frozen=True)
class _Message:
    kind: str  # request | notification | response
    id: Any = None
    method: str = ""
    params: dict[str, Any] | None = None


def _classify(message: Any) -> _Message:
    """The JSON-RPC message kind, or ``RpcError(INVALID_REQUEST)`` for anything else."""
    if not isinstance(message, dict):
        raise p.RpcError(p.INVALID_REQUEST, "Invalid Request: expected a JSON-RPC 2.0 message object")
    request_id = message.get("id")
    echo = request_id if _valid_id(request_id) else None
    if message.get("jsonrpc") != "2.0":
        raise p.RpcError(p.INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', request_id=echo)
    if "method" not in message:
        if "id" in message and ("result" in message) != ("error" in message):
            return _Message("response", id=request_id)
        raise p.RpcError(
            p.INVALID_REQUEST, "Invalid Request: a request needs a string method", request_id=echo
        )
    method = message["method"]
    params = message.get("params")
    if not isinstance(method, str):
        raise p.RpcError(p.INVALID_REQUEST, "Invalid Request: method must be a string", request_id=echo)
    if params is not None and not isinstance(params, dict):
        raise p.RpcError(p.INVALID_REQUEST, "Invalid Request: params must be an object", request_id=echo)
    if "id" not in message:
        return _Message("notification", method=method, params=params)
    if not _valid_id(request_id):
        raise p.RpcError(p.INVALID_REQUEST, "Invalid Request: id must be a string or an integer")
    return _Message("request", id=request_id, method=method, params=params)


@dataclass(frozen=True)
class McpFunctionSettings(EnvSettings):
    """McpFunction's environment: the MCP server's, the resource server's (OAuth), the verifier's."""

    server: McpSettings
    auth: McpAuthSettings
    verifier: VerifierSettings


class McpServer:
    """Answers MCP requests for the task tools; one instance per container, no per-user state."""

    def __init__(self, settings: McpFunctionSettings) -> None:
        self.settings = settings.server
        self.resource_server = ResourceServer.build(settings.auth, settings.verifier)
        self.usage = UsageLimits(self.settings.usage)

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """The answer to one request: the metadata document, or the MCP reply."""
        request_context = event.get("requestContext") or {}
        http = request_context.get("http") or {}
        endpoint = self.resource_server.endpoint(request_context.get("domainName"))
        if str(event.get("rawPath") or http.get("path") or "").startswith(METADATA_PATH):
            return self._metadata(endpoint)
        headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
        credentials = self.resource_server.request(headers, endpoint)
        reply = self.reply(http.get("method", "POST"), headers, _body(event), credentials)
        response: dict[str, Any] = {"statusCode": reply.status, "headers": dict(reply.headers)}
        if reply.body is not None:
            response["headers"]["content-type"] = "application/json"
            response["body"] = encode(reply.body)
        return response

    def _metadata(self, endpoint: Endpoint | None) -> dict[str, Any]:
        document = self.resource_server.metadata(endpoint)
        if document is None:
            return json_response(404, {"detail": NO_AUTHORIZATION_SERVER})
        return json_response(200, document, {"cache-control": f"public, max-age={METADATA_MAX_AGE_SECONDS}"})

    @cached_property
    def tasks(self) -> TaskService:
        # Built on the first tool call: boto3 is most of a cold start, and discovery,
        # initialize and tools/list never need it.
        from chatkit_backend.tasks.service import TaskService

        return TaskService(self.settings.tasks_table)

    def reply(self, method: str, headers: dict[str, str], body: bytes, credentials: Credentials) -> HttpReply:
        """One HTTP request (method, lower-cased headers, body bytes, and its ``Credentials``) answered."""
        if method != "POST":
            return _transport_error(
                405,
                "Method Not Allowed: this stateless MCP server takes POST only (no GET stream, no sessions).",
                allow="POST",
            )
        origin = headers.get("origin")
        if origin is not None and origin not in self.settings.allowed_origins:
            return _transport_error(403, "Forbidden: this Origin may not call the MCP server.")
        try:
            user_id = credentials.user()
        except HttpRefusal as refusal:
            return _refused(refusal)
        if len(body) > self.settings.max_body_bytes:
            return _transport_error(
                413, f"Request body is over the {self.settings.max_body_bytes}-byte limit."
            )
        if _media_type(headers.get("content-type", "")) != "application/json":
            return _transport_error(415, "Unsupported Media Type: send Content-Type: application/json.")
        accept = headers.get("accept")
        if accept is not None and not _accepts_json(accept):
            return _transport_error(406, "Not Acceptable: this server answers with application/json.")
        try:
            message = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return _transport_error(400, "Parse error: the body is not valid JSON.", p.PARSE_ERROR)

        header_version = headers.get(p.PROTOCOL_VERSION_HEADER)
        if header_version is not None and header_version not in p.KNOWN_VERSIONS:
            request_id = message.get("id") if isinstance(message, dict) else None
            return HttpReply(
                400,
                p.error_message(
                    request_id if _valid_id(request_id) else None, p.unsupported_version(header_version)
                ),
            )
        try:
            credentials.allow(writes=_writes(message))
        except HttpRefusal as refusal:
            return _refused(refusal)
        refused = self._count_tool_calls(message, user_id)
        if refused is not None:
            return refused
        if header_version in p.MODERN_VERSIONS or (header_version is None and _has_modern_meta(message)):
            return self._modern(message, headers, user_id)
        return self._handshake(
            message, header_version or p.DEFAULT_HEADERLESS_VERSION, user_id, apps.in_session(headers)
        )

    def _count_tool_calls(self, message: Any, user_id: str) -> HttpReply | None:
        """Count the message's tool calls against the user's per-minute limit (one conditional
        DynamoDB update); over it, the whole request is refused before any tool runs: HTTP 429
        with Retry-After and a JSON-RPC error.

        With the counter unreachable the calls go ahead: a tool call spends no OpenAI money, and
        each tool then meets the same outage and answers the sentence the model can act on.
        """
        calls = _tool_calls(message)
        if not calls:
            return None
        try:
            self.usage.begin_tool_call(user_id, calls)
        except DependencyUnavailable as error:
            log_dependency_failure(error, tool="usage limit")
        except RateLimited as error:
            request_id = message.get("id") if isinstance(message, dict) else None
            refusal = p.RpcError(p.RATE_LIMITED, error.detail, {"retryAfter": error.retry_after})
            reply = p.error_message(request_id if _valid_id(request_id) else None, refusal)
            return HttpReply(429, reply, {"retry-after": str(error.retry_after)})
        return None

    # ---- initialize era (2024-11-05 .. 2025-11-25) -------------------------------------------

    def _handshake(self, message: Any, version: str, user_id: str, with_apps: bool) -> HttpReply:
        if isinstance(message, list):
            if version not in p.BATCH_VERSIONS:
                return _transport_error(
                    400, f"Invalid Request: JSON-RPC batches are not part of MCP {version}."
                )
            if not message:
                return _transport_error(400, "Invalid Request: empty batch.")
            replies = [
                reply
                for item in message
                if (reply := self._handshake_one(item, version, user_id, with_apps, True))
            ]
            return HttpReply(200, replies) if replies else HttpReply(202)
        try:
            reply = self._handshake_one(message, version, user_id, with_apps, False)
        except p.RpcError as error:
            return HttpReply(400, p.error_message(error.request_id, error))
        if reply is None:
            return HttpReply(202)
        return HttpReply(200, reply, _apps_session(message, reply))

    def _handshake_one(
        self, message: Any, version: str, user_id: str, with_apps: bool, in_batch: bool
    ) -> dict[str, Any] | None:
        try:
            parsed = _classify(message)
        except p.RpcError as error:
            if not in_batch:
                raise
            return p.error_message(error.request_id, error)
        if parsed.kind != "request":
            return None
        try:
            return p.result_message(
                parsed.id, self._handshake_call(parsed, version, user_id, with_apps, in_batch)
            )
        except p.RpcError as error:
            return p.error_message(parsed.id, error)

    def _handshake_call(
        self, request: _Message, version: str, user_id: str, with_apps: bool, in_batch: bool
    ) -> dict[str, Any]:
        params = request.params or {}
        if request.method == "initialize":
            if in_batch:
                raise p.RpcError(p.INVALID_REQUEST, "initialize must not be part of a JSON-RPC batch.")
            return self._initialize(params)
        if request.method == "ping":
            return {}
        if request.method == "tools/list":
            return self._tools_list(params, version, with_apps)
        if request.method == "tools/call":
            return self._tools_call(params, version, user_id)
        if with_apps and request.method in RESOURCE_METHODS:
            return _resources_call(request.method, params, version)
        raise p.RpcError(p.METHOD_NOT_FOUND, f"Method not found: {request.method[:100]}")

    def _initialize(self, params: dict[str, Any]) -> dict[str, Any]:
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise p.RpcError(p.INVALID_PARAMS, "initialize needs params.protocolVersion (a string).")
        for name in ("capabilities", "clientInfo"):
            if not isinstance(params.get(name), dict):
                raise p.RpcError(p.INVALID_PARAMS, f"initialize needs params.{name} (an object).")
        version = requested if requested in p.HANDSHAKE_VERSIONS else p.LATEST_HANDSHAKE_VERSION
        return {
            "protocolVersion": version,
            "capabilities": _capabilities(apps.offered(params["capabilities"])),
            "serverInfo": _server_info(version),
            "instructions": INSTRUCTIONS,
        }

    # ---- shared methods ------------------------------------------------------------------------

    @staticmethod
    def _tools_list(params: dict[str, Any], version: str, with_apps: bool) -> RawJson:
        if params.get("cursor") is not None:
            raise p.RpcError(p.INVALID_PARAMS, "Invalid cursor: the tool list has a single page.")
        return _listing(version, with_apps)

    def _tools_call(self, params: dict[str, Any], version: str, user_id: str) -> dict[str, Any]:
        name = params.get("name")
        if not isinstance(name, str):
            raise p.RpcError(p.INVALID_PARAMS, "tools/call needs params.name (a string).")
        tool = TOOLS_BY_NAME.get(name)
        if tool is None:
            raise p.RpcError(
                p.INVALID_PARAMS, f"Unknown tool: {name[:100]}. Call tools/list for the tool names."
            )
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise p.RpcError(p.INVALID_PARAMS, "tools/call params.arguments must be an object.")
        try:
            structured = tool.run(self.tasks, user_id, normalized_arguments(tool, arguments))
        except ArgumentError as error:
            count("ToolCalls", tool=tool.name, outcome="error", via="mcp")
            return _tool_error(str(error))
        except DependencyUnavailable as error:
            log_dependency_failure(error, tool=tool.name)
            count("ToolCalls", tool=tool.name, outcome="failed", via="mcp")
            # A write that timed out may still have been applied: say how to find out.
            return _tool_error(f"{error.detail} {OUTAGE_HINT}")
        except DomainError as error:
            count("ToolCalls", tool=tool.name, outcome="error", via="mcp")
            return _tool_error(error.detail)
        except Exception:  # noqa: BLE001 - an unexpected failure is a tool error the model can act on, logged
            logger.exception("tool call failed", extra={"tool": tool.name})
            count("ToolCalls", tool=tool.name, outcome="failed", via="mcp")
            return _tool_error(f"The tool failed unexpectedly. {OUTAGE_HINT}")
        count("ToolCalls", tool=tool.name, outcome="ok", via="mcp")
        result: dict[str, Any] = {
            "content": [
                {"type": "text", "text": json.dumps(structured, separators=(",", ":"), ensure_ascii=False)}
            ],
            "isError": False,
        }
        if p.version_at_least(version, "2025-06-18"):
            result["structuredContent"] = structured
        return result

    # ---- stateless era (2026-07-28) ------------------------------------------------------------

    def _modern(self, message: Any, headers: dict[str, str], user_id: str) -> HttpReply:
        if not isinstance(message, dict):
            return _transport_error(
                400, "Invalid Request: the body must be one JSON-RPC request or notification."
            )
        try:
            parsed = _classify(message)
        except p.RpcError as error:
            return HttpReply(400, p.error_message(error.request_id, error))
        if parsed.kind == "notification":
            return HttpReply(202)
        if parsed.kind == "response":
            return _transport_error(400, "Invalid Request: a 2026-07-28 server sends no requests to answer.")
        try:
            version = self._check_envelope(parsed, headers)
            result = self._modern_call(parsed, version, user_id)
        except p.RpcError as error:
            status = error.status or p.MODERN_ERROR_STATUS.get(error.code, 200)
            return HttpReply(status, p.error_message(parsed.id, error))
        return HttpReply(200, p.result_message(parsed.id, result))

    @staticmethod
    def _check_envelope(request: _Message, headers: dict[str, str]) -> str:
        """The request's protocol version once envelope, headers and version all check out."""
        params = request.params or {}
        meta = params.get("_meta")
        if not isinstance(meta, dict):
            raise p.RpcError(
                p.INVALID_PARAMS,
                f"params._meta must be an object carrying {p.PROTOCOL_VERSION_META_KEY!r} "
                f"and {p.CLIENT_CAPABILITIES_META_KEY!r}",
            )
        missing = [
            key for key in (p.PROTOCOL_VERSION_META_KEY, p.CLIENT_CAPABILITIES_META_KEY) if key not in meta
        ]
        if missing:
            raise p.RpcError(
                p.INVALID_PARAMS, f"params._meta is missing the required key(s): {', '.join(missing)}"
            )
        version = meta[p.PROTOCOL_VERSION_META_KEY]
        header_version = headers.get(p.PROTOCOL_VERSION_HEADER)
        if header_version is None or header_version != version:
            raise p.RpcError(p.HEADER_MISMATCH, "MCP-Protocol-Version header does not match params._meta")
        if headers.get(p.METHOD_HEADER) != request.method:
            raise p.RpcError(p.HEADER_MISMATCH, "Mcp-Method header does not match the request's method")
        if (
            request.method == "tools/call"
            and params.get("name") is not None
            and _decode_header_value(headers.get(p.NAME_HEADER)) != params["name"]
        ):
            raise p.RpcError(p.HEADER_MISMATCH, "Mcp-Name header does not match params.name")
        if version not in p.MODERN_VERSIONS:
            raise p.unsupported_version(version)
        return version

    def _modern_call(self, request: _Message, version: str, user_id: str) -> dict[str, Any] | RawJson:
        params = request.params or {}
        with_apps = apps.offered(params["_meta"][p.CLIENT_CAPABILITIES_META_KEY])
        if request.method == "server/discover":
            return _discovery(version, with_apps)
        if request.method == "tools/list":
            return self._tools_list(params, version, with_apps)
        if request.method == "tools/call":
            return _stamp(self._tools_call(params, version, user_id), version)
        if with_apps and request.method in RESOURCE_METHODS:
            return _resources_call(request.method, params, version)
        raise p.RpcError(p.METHOD_NOT_FOUND, f"Method not found: {request.method[:100]}")


def _tool_calls(message: Any) -> int:
    """How many tools/call requests the message (or batch) holds."""
    items = message if isinstance(message, list) else [message]
    return sum(
        1 for item in items if isinstance(item, dict) and item.get("method") == "tools/call" and "id" in item
    )


def _stamp(result: dict[str, Any], version: str) -> dict[str, Any]:
    """2026-07-28 results name their type and the server that made them."""
    if version in p.MODERN_VERSIONS:
        result["resultType"] = "complete"
        result["_meta"] = {p.SERVER_INFO_META_KEY: _server_info(version)}
    return result


def _capabilities(with_apps: bool) -> dict[str, Any]:
    """The server's capabilities: the tools, and for a client that offered MCP Apps, the view."""
    capabilities: dict[str, Any] = {"tools": {"listChanged": False}}
    if with_apps:
        capabilities["resources"] = {"listChanged": False}
        capabilities["extensions"] = {apps.EXTENSION: {}}
    return capabilities


def _apps_session(message: Any, reply: dict[str, Any]) -> dict[str, str]:
    """The ``Mcp-Session-Id`` header of a successful ``initialize`` that offered MCP Apps: how the
    client's later requests say so to a server that keeps nothing (``mcp.apps``)."""
    if (
        "result" in reply
        and message.get("method") == "initialize"
        and apps.offered(message["params"]["capabilities"])
    ):
        return {apps.SESSION_ID_HEADER: apps.new_session_id()}
    return {}


def _resources_call(method: str, params: dict[str, Any], version: str) -> RawJson:
    """The resource methods, for a client that offered MCP Apps: the one resource is the task view."""
    if method == "resources/read":
        if not isinstance(params.get("uri"), str):
            raise p.RpcError(p.INVALID_PARAMS, "resources/read needs params.uri (a string).")
        if params["uri"] != apps.VIEW_URI:
            raise p.RpcError(
                p.INVALID_PARAMS, f"Resource not found: the one resource of this server is {apps.VIEW_URI}."
            )
        return _view(version)
    if params.get("cursor") is not None:
        raise p.RpcError(p.INVALID_PARAMS, "Invalid cursor: the resource list has a single page.")
    return _resource_listing(version) if method == "resources/list" else _templates(version)


def _catalogue(result: dict[str, Any], version: str) -> RawJson:
    """A result the same for every caller, encoded once: 2026-07-28 lets clients cache it."""
    if version in p.MODERN_VERSIONS:
        result.update(ttlMs=CATALOGUE_TTL_MS, cacheScope="public")
    return _raw(_stamp(result, version))


@cache
def _listing(version: str, with_apps: bool) -> RawJson:
    tools = LISTINGS[version]
    return _catalogue({"tools": [apps.with_view(tool) for tool in tools] if with_apps else tools}, version)


@cache
def _resource_listing(version: str) -> RawJson:
    return _catalogue({"resources": [apps.VIEW]}, version)


@cache
def _templates(version: str) -> RawJson:
    return _catalogue({"resourceTemplates": []}, version)


@cache
def _view(version: str) -> RawJson:
    # Read from the file on a container's first read only: the view is not on the cold start's path.
    return _catalogue({"contents": [apps.view_contents()]}, version)


@cache
def _discovery(version: str, with_apps: bool) -> RawJson:
    result = {
        "supportedVersions": list(p.MODERN_VERSIONS),
        "capabilities": _capabilities(with_apps),
        "instructions": INSTRUCTIONS,
        "ttlMs": CATALOGUE_TTL_MS,
        "cacheScope": "public",
    }
    return _raw(_stamp(result, version))


def _tool_error(sentence: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": sentence}], "isError": True}


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the JSON parser reports it as the client's mistake
    # surrogateescape keeps undecodable bytes as they came, for the parser to refuse.
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
