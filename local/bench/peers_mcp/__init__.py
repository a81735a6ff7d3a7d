"""Peer MCP servers for `make bench`: the same five task tools over the same task service,
served the two ways people serve MCP from Lambda today."""
