"""MCP wire facts: protocol revisions, JSON-RPC error codes, and their HTTP statuses.

Checked against the reference SDK (``mcp`` 2.3.0 / ``mcp-types``): revisions up to 2025-11-25
negotiate through ``initialize``; 2026-07-28 is stateless, each request carries its version in
``params._meta`` and in the ``MCP-Protocol-Version`` header, ``server/discover`` replaces the
handshake, and ``initialize``, ``ping``, ``logging/setLevel`` and the subscribe pair are gone.
"""

from __future__ import annotations

from typing import Any, Final

HANDSHAKE_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS: Final = ("2026-07-28",)
KNOWN_VERSIONS: Final = HANDSHAKE_VERSIONS + MODERN_VERSIONS
LATEST_HANDSHAKE_VERSION: Final = HANDSHAKE_VERSIONS[-1]
# Streamable HTTP: a request without the version header, and no other way to tell, is 2025-03-26.
DEFAULT_HEADERLESS_VERSION: Final = "2025-03-26"
# JSON-RPC batches exist up to 2025-03-26; 2025-06-18 removed them.
BATCH_VERSIONS: Final = ("2024-11-05", "2025-03-26")

PROTOCOL_VERSION_HEADER: Final = "mcp-protocol-version"
METHOD_HEADER: Final = "mcp-method"
NAME_HEADER: Final = "mcp-name"
PROTOCOL_VERSION_META_KEY: Final = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_META_KEY: Final = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META_KEY: Final = "io.modelcontextprotocol/serverInfo"

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
HEADER_MISMATCH: Final = -32020
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022
# JSON-RPC's implementation-defined server error, for a request refused by the per-user limit
# (or an unreachable counter); the HTTP 429/503 and its Retry-After are what clients act on.
RATE_LIMITED: Final = -32000

# 2026-07-28 maps JSON-RPC errors to HTTP statuses (the SDK's ERROR_CODE_HTTP_STATUS);
# unmapped codes ride on 200. Handshake-era method errors also ride on 200, as every
# client of those revisions expects; only transport-level faults are 4xx there.
MODERN_ERROR_STATUS: Final = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}


def version_at_least(version: str, minimum: str) -> bool:
    """Whether ``version`` is a known revision no older than ``minimum``."""
    return version in KNOWN_VERSIONS and KNOWN_VERSIONS.index(version) >= KNOWN_VERSIONS.index(minimum)


class RpcError(Exception):
    """A JSON-RPC error to answer with; ``status`` overrides the era's default HTTP status."""

    def __init__(
        self, code: int, message: str, data: Any = None, *, status: int | None = None, request_id: Any = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.status = status
        # The id to echo when the error is about the message envelope itself (None when unreadable).
        self.request_id = request_id

    def to_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def unsupported_version(requested: Any) -> RpcError:
    return RpcError(
        UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        {
            "supported": list(KNOWN_VERSIONS),
            "requested": requested if isinstance(requested, str) else str(requested),
        },
        status=400,
    )


def error_message(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_error()}


def result_message(request_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}
