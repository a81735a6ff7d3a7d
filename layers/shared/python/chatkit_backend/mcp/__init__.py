"""A hand-written MCP server (Streamable HTTP, stateless, JSON responses) for the task tools.

``server`` is McpFunction's service (the event, the token check, the transport rules and the
dispatch), ``protocol`` holds the wire facts (revisions, error codes, envelopes), ``tools`` the
listing of the task tools (``tasks.tools``) per revision, ``apps`` the task view for MCP Apps
hosts. Nothing here imports the MCP SDK, botocore or a web framework at import time: the task
service is imported on the first tool call, and the token check loads the AWS SDK only to read a
signing secret (an HS256 user token), so an OAuth access token's discovery, ``initialize`` and
``tools/list`` answer from a cold container without it.
"""
