"""Shared layer of the ChatKit task backend, arranged by capability.

- ``auth``: who the caller is: the gateway authorizer, token verification and minting, JWKS,
  the OAuth authorization server as /mcp's resource server sees it, the signing-key rotation;
- ``tasks``: the user's tasks (the service) and the one catalogue of task tools;
- ``chat``: the self-hosted ChatKit server, its store, chat sessions and the thread list;
- ``mcp``: the MCP server of the task tools; ``migration``: the import of hosted threads;
- ``users``: a user's data taken out or erased, and their usage limits;
- plumbing: ``http`` (answers and errors as HTTP), ``aws`` (clients, secrets, SnapStart, time
  left), ``openai_api``, ``observability`` (logs, metrics, traces), ``settings``, ``errors``
  and ``limits``.

``functions/<name>/app.py`` builds its settings and service once and makes one call into these
packages per request. Imports run one way, functions -> adapters -> domain -> AWS; the package
``__init__`` files import nothing (tests/domain/test_layer_rules.py).
"""

__version__ = "0.1.0"
