"""OpenAI's ChatKit threads API, as the import reads it: the SDK's pages, with our retries.

The SDK's own retries are off (``max_retries=0``): ours honour Retry-After of any length, know the
Lambda deadline, pause every task after a 429, and log. A refusal that would hit every thread (a
key without access, no quota) is told apart (``fatal``) so the run stops at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import openai

from chatkit_backend.aws.deadline import Deadline, OutOfTime
from chatkit_backend.observability.logs import logger
from chatkit_backend.openai_api.retry import retry_after

# The API's page ceiling, for threads and for items alike.
PAGE_SIZE = 100
# Per OpenAI request; at most MAX_ATTEMPTS of them for one call.
REQUEST_TIMEOUT = openai.Timeout(30.0, connect=5.0)
MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 600.0
# No retry waits into the last of the invocation's time.
RETRY_MARGIN_SECONDS = 30.0
T = TypeVar("T")


class GarbledAnswer(Exception):
    """OpenAI answered 200 with something that is not its API's answer (a proxy's page, a
    document cut short): the SDK hands back the text of a body that is not JSON, or fails to read it."""

    def __init__(self, what: str) -> None:
        super().__init__(f"OpenAI answered {what} with something else than its API's answer")


class HostedApi:
    """OpenAI's ChatKit threads API through the SDK (its own pagination), with our retries."""

    def __init__(self, client: openai.AsyncOpenAI, deadline: Deadline) -> None:
        self.client = client
        self.deadline = deadline
        # After a 429 every task waits until then: one Retry-After pauses the whole run.
        self._not_before = 0.0

    async def list_threads(self, user: str | None, after: str | None) -> Any:
        query: dict[str, Any] = {"limit": PAGE_SIZE, "order": "asc"}
        if user is not None:
            query["user"] = user
        if after is not None:
            query["after"] = after
        return await self.call("list threads", lambda: self.client.beta.chatkit.threads.list(**query))

    async def list_items(self, thread_id: str, after: str | None) -> Any:
        query: dict[str, Any] = {"limit": PAGE_SIZE, "order": "asc"}
        if after is not None:
            query["after"] = after
        return await self.call(
            f"list items of {thread_id}",
            lambda: self.client.beta.chatkit.threads.list_items(thread_id, **query),
        )

    async def next_page(self, page: Any, what: str) -> Any:
        return await self.call(what, page.get_next_page)

    async def call(self, what: str, request: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            pause = self._not_before - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                answer = await request()
            except (ValueError, AttributeError, TypeError) as error:
                raise GarbledAnswer(what) from error
            except openai.APIError as error:
                if not retryable(error) or attempt >= MAX_ATTEMPTS:
                    raise
                delay, told = _retry_delay(error, attempt)
                if self.deadline.remaining() - delay < RETRY_MARGIN_SECONDS:
                    raise OutOfTime(
                        f"{what}: OpenAI asked to wait {delay:.0f} s, past this invocation's time"
                    ) from error
                if getattr(error, "status_code", None) == 429:
                    self._not_before = max(self._not_before, time.monotonic() + delay)
                logger.warning(
                    "OpenAI did not answer %s; retrying in %.1f s",
                    what,
                    delay,
                    extra={"upstream_status": status(error), "attempt": attempt, "retry_after": told},
                )
                attempt += 1
                await asyncio.sleep(delay)
                continue
            if isinstance(answer, str):
                raise GarbledAnswer(what)
            return answer


def status(error: openai.APIError) -> str:
    code = getattr(error, "status_code", None)
    return str(code) if code is not None else type(error).__name__


def retryable(error: openai.APIError) -> bool:
    if isinstance(error, openai.APIConnectionError):  # includes timeouts
        return True
    code = getattr(error, "status_code", None)
    if code == 429:
        # Out of quota is a 429 too, and waiting does not end it.
        return getattr(error, "code", None) != "insufficient_quota"
    return code in (408, 409) or (isinstance(code, int) and code >= 500)


def _retry_delay(error: openai.APIError, attempt: int) -> tuple[float, bool]:
    """Seconds to wait before the next attempt, and whether OpenAI said so (Retry-After)."""
    response = getattr(error, "response", None)
    told = retry_after(response.headers) if response is not None else None
    if told is not None:
        return min(told, MAX_RETRY_AFTER_SECONDS), True
    backoff = min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
    return backoff * (0.75 + random.random() / 4), False


def fatal(error: BaseException) -> str | None:
    """Why the whole run must stop (the same answer would come for every thread), or None."""
    if isinstance(error, openai.AuthenticationError):
        return "OpenAI refused the API key (401). Put a valid key in OpenAIApiKeySecret and run again."
    if isinstance(error, openai.PermissionDeniedError):
        return "OpenAI refused this key access to ChatKit threads (403): use a key of the project the threads belong to."
    if isinstance(error, openai.RateLimitError) and getattr(error, "code", None) == "insufficient_quota":
        return "OpenAI answered that the project is out of quota (429 insufficient_quota)."
    return None
