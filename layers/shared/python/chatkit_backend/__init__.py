"""Shared layer of the ChatKit task backend: identity, tasks, threads, sessions, MCP.

Handlers in ``functions/`` stay thin and call into these modules; nothing here knows about
API Gateway events except ``identity``, ``http_responses`` and ``fastapi_app``.
"""

__version__ = "0.1.0"
