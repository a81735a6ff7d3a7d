"""Domain exceptions, raised by services and translated once per transport.

HTTP surfaces answer them as ``http.responses.error_answer`` says; MCP turns tool failures into ``isError`` results.
Messages are written for the person (or model) who made the request: they say what to fix and
never carry secrets.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base for every error a caller can act on."""

    # Seconds the caller should wait before trying again (HTTP ``Retry-After``), when that helps.
    retry_after: int | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The request is malformed or a field breaks its limits (HTTP 400/422)."""


class AuthenticationRequired(DomainError):
    """No identity, or a token that does not verify (HTTP 401)."""

    def __init__(self, detail: str = "Authentication required. Please log in.") -> None:
        super().__init__(detail)


class Forbidden(DomainError):
    """The caller is known but may not do this (HTTP 403)."""


class NotFound(DomainError):
    """The item does not exist for this user (HTTP 404); another user's item is also 'not found'."""


class TaskNotFound(NotFound):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"No task with id '{task_id}'. Call list_tasks to see your task ids.")
        self.task_id = task_id


class ThreadNotFound(NotFound):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"No thread with id '{thread_id}'.")
        self.thread_id = thread_id


class Conflict(DomainError):
    """The change conflicts with the stored state (HTTP 409)."""


class PayloadTooLarge(DomainError):
    """The body, or a message, tool output or answer in it, is over its limit (HTTP 413)."""


class UnsupportedMediaType(DomainError):
    """The body is not sent as the media type the route reads (HTTP 415)."""


class RateLimited(DomainError):
    """Too many requests (HTTP 429, with Retry-After)."""

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotConfigured(DomainError):
    """A deployment setting this route needs is missing (HTTP 503)."""

    def __init__(self, setting: str, hint: str = "") -> None:
        detail = f"The server is not configured: {setting} is not set."
        super().__init__(f"{detail} {hint}".strip())
        self.setting = setting


class UpstreamRejected(DomainError):
    """An upstream service refused the request, e.g. a bad API key (HTTP 502)."""


class UpstreamUnavailable(DomainError):
    """An upstream service failed or could not be reached (HTTP 502)."""


class UpstreamTimeout(DomainError):
    """An upstream service did not answer in time (HTTP 504)."""


class DependencyUnavailable(DomainError):
    """An AWS service this request needs (DynamoDB, S3, Secrets Manager) failed, throttled or timed
    out (HTTP 503 with Retry-After). Nothing about the request is wrong: the same request may
    succeed a few seconds later. ``service`` and ``cause`` are for the log, not for the caller."""

    def __init__(self, service: str, cause: str, retry_after: int = 5) -> None:
        name = SERVICE_NAMES.get(service, service)
        super().__init__(f"{name} is not answering right now. Try again in a few seconds.")
        self.service = service
        self.cause = cause
        self.retry_after = retry_after


SERVICE_NAMES = {
    "dynamodb": "The database (DynamoDB)",
    "secretsmanager": "The secret store (Secrets Manager)",
    "s3": "The file store (S3)",
}
