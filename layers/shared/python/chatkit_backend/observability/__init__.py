"""Observability: ``logs`` (the one logger), ``metrics`` (EMF lines) and ``tracing`` (X-Ray, the chat's only)."""
