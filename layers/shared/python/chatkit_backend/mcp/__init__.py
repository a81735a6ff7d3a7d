"""A hand-written MCP server (Streamable HTTP, stateless, JSON responses) for the task tools.

``protocol`` holds the wire facts (revisions, error codes, envelopes), ``tools`` the listing of
the task tools (``chatkit_backend.tasks.tools``) per revision, ``server`` the transport rules and
dispatch. Nothing here imports
the MCP SDK, boto3 or a web framework: the task service is imported on the first tool call,
so ``server/discover``, ``initialize`` and ``tools/list`` answer from a cold container without
loading the AWS SDK.
"""
