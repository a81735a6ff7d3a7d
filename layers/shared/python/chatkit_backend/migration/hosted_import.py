"""Hosted ChatKit threads into ChatKitTable: what `make import-hosted-threads` and
ImportHostedThreadsFunction run.

Threads made through hosted ChatKit sessions (Agent Builder workflows) live at OpenAI. This
module reads them with the project's key through the ``openai`` SDK's ChatKit threads API
(``client.beta.chatkit.threads.list`` / ``list_items``, header ``OpenAI-Beta: chatkit_beta=v1``)
and writes each one into the self-hosted store, so ``POST /chatkit`` shows it to its owner:

- The owner is the hosted thread's ``user``: the ``user`` the session route passed, our user_id.
- The thread keeps its hosted id (``cthr_...``), title, status and ``created_at``. Items keep
  their ids, their order and their ``created_at``; items of one second (the API's resolution)
  are set apart by a microsecond per position, so the store's time order is the hosted order.
- Each item becomes the ``openai-chatkit`` item that shows the same thing (``convert``).
  One that cannot be converted is counted and logged by its type, never dropped in silence.
- Idempotent and resumable: an import mark per thread (``store.ImportStore``) records where the
  last import stopped. A rerun re-reads from the last imported item on, writes only what is new or
  changed, and leaves alone a thread the user deleted here since.
- A 429 or 5XX is retried with backoff, honouring ``Retry-After``; a thread that still fails is
  counted and the others go on. Threads are imported a few at a time, pages of threads in order,
  so a run cut short by the Lambda time limit returns a continuation token to resume from
  (``progress``). The OpenAI calls and their retries are ``hosted_api``'s.

``HostedImport.invoke`` is ImportHostedThreadsFunction's one call; `make import-hosted-threads`
runs the same import (``HostedImport.run``) to the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
from chatkit.store import NotFoundError
from chatkit.types import ThreadItem, ThreadMetadata
from openai.types.beta.chatkit import ChatKitThread

from chatkit_backend import limits
from chatkit_backend.aws.deadline import Deadline, OutOfTime
from chatkit_backend.aws.secrets import SecretCache
from chatkit_backend.chat.store.context import RequestContext
from chatkit_backend.chat.store.items import ITEM_ADAPTER
from chatkit_backend.errors import DomainError
from chatkit_backend.migration.convert import (
    NotConvertible,
    convert_item,
    convert_thread,
    item_time,
    owner,
)
from chatkit_backend.migration.hosted_api import (
    MAX_ATTEMPTS,
    PAGE_SIZE,
    REQUEST_TIMEOUT,
    GarbledAnswer,
    HostedApi,
    fatal,
    retryable,
    status,
)
from chatkit_backend.migration.progress import ImportRequest, RunResult, ThreadOutcome, Totals
from chatkit_backend.migration.store import ImportStore
from chatkit_backend.observability.logs import logger
from chatkit_backend.openai_api.key import openai_api_key
from chatkit_backend.settings import EnvSettings, env

# Threads imported at once: enough to hide OpenAI's latency, few enough to stay polite.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 16
# No thread is started with less than this left before the deadline (one thread of a few
# hundred items takes seconds).
START_MARGIN_SECONDS = 120.0


@dataclass(frozen=True)
class ImportSettings(EnvSettings):
    chatkit_table: str = env("CHATKIT_TABLE")
    openai_api_key_secret_arn: str = env("OPENAI_API_KEY_SECRET_ARN")
    # The OpenAI SDK's own variable; empty means api.openai.com.
    openai_base_url: str = env("OPENAI_BASE_URL")
    concurrency: int = env("IMPORT_CONCURRENCY", DEFAULT_CONCURRENCY, between=(1, MAX_CONCURRENCY))


Progress = Callable[[ThreadOutcome], None]


class HostedImport:
    """Imports hosted threads into the store; one instance per container."""

    def __init__(self, settings: ImportSettings, secrets: SecretCache | None = None) -> None:
        self.settings = settings
        self.secrets = secrets or SecretCache()
        self.store = ImportStore(settings.chatkit_table)

    def invoke(self, event: Any, context: Any) -> dict[str, Any]:
        """One invocation: ``{"user"?, "dry_run"?, "continuation"?}`` in, the run's result out; a
        bad event answers ``{"done": false, "error": ...}`` and changes nothing."""
        try:
            request = ImportRequest.from_event(event)
            result = self.run(request, Deadline.of(context))
        except DomainError as error:
            logger.warning("hosted import refused", extra={"detail": error.detail})
            return {"done": False, "error": error.detail}
        logger.info(
            "hosted import invocation ended", extra={"done": result.done, "totals": result.totals.as_dict()}
        )
        return result.as_dict()

    def run(
        self, request: ImportRequest, deadline: Deadline | None = None, progress: Progress | None = None
    ) -> RunResult:
        return asyncio.run(self.run_async(request, deadline or Deadline(), progress))

    async def run_async(
        self, request: ImportRequest, deadline: Deadline, progress: Progress | None = None
    ) -> RunResult:
        """Visit the threads after ``request.after``, page by page, until done or out of time."""
        api_key = openai_api_key(self.secrets, self.settings.openai_api_key_secret_arn)
        totals = Totals.from_dict(request.totals)
        after = request.after
        client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.settings.openai_base_url or None,
            max_retries=0,
            timeout=REQUEST_TIMEOUT,
        )
        api = HostedApi(client, deadline)
        try:
            page = await api.list_threads(request.user, after)
            while True:
                outcomes = await self._import_page(api, list(page.data), request.dry_run, deadline, progress)
                for hosted, outcome in zip(page.data, outcomes):
                    if outcome is None:  # not started or cut short: the continuation starts here
                        return RunResult(totals, request.dry_run, continuation=request.token(after, totals))
                    totals.add(outcome)
                    after = hosted.id
                if not page.has_next_page():
                    return RunResult(totals, request.dry_run)
                if deadline.remaining() < START_MARGIN_SECONDS:
                    return RunResult(totals, request.dry_run, continuation=request.token(after, totals))
                page = await api.next_page(page, "list threads")
        except OutOfTime:
            return RunResult(totals, request.dry_run, continuation=request.token(after, totals))
        except (openai.APIError, GarbledAnswer, _Fatal) as error:
            reason = _stop_reason(error)
            logger.error("hosted import stopped", extra={"reason": reason, "after": after})
            return RunResult(totals, request.dry_run, continuation=request.token(after, totals), error=reason)
        finally:
            await client.close()

    async def _import_page(
        self,
        api: HostedApi,
        threads: list[ChatKitThread],
        dry_run: bool,
        deadline: Deadline,
        progress: Progress | None,
    ) -> list[ThreadOutcome | None]:
        """Each thread's outcome, in page order; None for one not started or cut short."""
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(hosted: ChatKitThread) -> ThreadOutcome | None:
            async with gate:
                if deadline.remaining() < START_MARGIN_SECONDS:
                    return None
                outcome = await self.import_thread(api, hosted, dry_run)
            if outcome is not None and progress is not None:
                progress(outcome)
            return outcome

        results = await asyncio.gather(*(one(hosted) for hosted in threads), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):  # a _Fatal: the others are done or cut short
                raise result
        return list(results)  # type: ignore[arg-type]

    async def import_thread(
        self, api: HostedApi, hosted: ChatKitThread, dry_run: bool
    ) -> ThreadOutcome | None:
        """Import one thread; never raises for this thread's own trouble (it is the outcome)."""
        outcome = ThreadOutcome(thread_id=hosted.id, user_id=str(hosted.user)[: limits.USER_ID_MAX_CHARS])
        try:
            await self._import_thread(api, hosted, dry_run, outcome)
        except OutOfTime:
            return None
        except NotConvertible as error:
            outcome.status, outcome.reason = "failed", f"not imported: {error}"
        except openai.NotFoundError:
            outcome.status, outcome.reason = "skipped", "gone from OpenAI since it was listed"
        except GarbledAnswer as garbled:
            outcome.status, outcome.reason = "failed", f"{garbled}; run again to retry"
        except openai.APIError as error:
            refusal = fatal(error)
            if refusal:
                raise _Fatal(refusal) from error
            outcome.status, outcome.reason = (
                "failed",
                f"OpenAI did not answer ({status(error)}); run again to retry",
            )
        except Exception as error:  # noqa: BLE001 - one thread's surprise must not stop the others; logged with its traceback
            logger.exception("importing a hosted thread failed", extra={"thread_id": hosted.id})
            outcome.status, outcome.reason = "failed", f"{type(error).__name__}; run again to retry"
        log = logger.warning if outcome.status == "failed" or outcome.items_failed else logger.info
        log(
            "hosted thread %s",
            outcome.status,
            extra={
                "thread_id": outcome.thread_id,
                "user_id": outcome.user_id,
                "items_imported": outcome.items_imported,
                "items_unchanged": outcome.items_unchanged,
                "items_failed": dict(outcome.items_failed),
                "reason": outcome.reason,
                "dry_run": dry_run,
            },
        )
        return outcome

    async def _import_thread(
        self, api: HostedApi, hosted: ChatKitThread, dry_run: bool, outcome: ThreadOutcome
    ) -> None:
        thread = convert_thread(hosted)
        context = RequestContext(user_id=owner(hosted))
        mark, existing = await asyncio.gather(
            self.store.load_import_mark(hosted.id, context), self._load_thread(hosted.id, context)
        )
        if mark is not None and existing is None:
            outcome.status, outcome.reason = "skipped", "deleted here after an earlier import; left deleted"
            return

        # Re-read from the last item imported (it may have changed since: a tool call completed),
        # so its predecessor is where listing resumes.
        resume_after: str | None = mark["resume_after"] if mark else None
        position: int = mark["resume_position"] if mark else 0
        known: int = mark["items"] if mark else 0
        previous, last = resume_after, None
        pending: list[ThreadItem] = []
        page = await api.list_items(hosted.id, resume_after)
        while True:
            for hosted_item in page.data:
                try:
                    item = convert_item(hosted_item, hosted.id, item_time(hosted_item.created_at, position))
                except NotConvertible as error:
                    kind = getattr(hosted_item, "type", "unknown")
                    outcome.items_failed[kind] += 1
                    logger.warning(
                        "hosted item not convertible",
                        extra={
                            "thread_id": hosted.id,
                            "item_id": hosted_item.id,
                            "item_type": kind,
                            "reason": str(error),
                        },
                    )
                else:
                    if position < known and await self._stored_as(hosted.id, item, context):
                        outcome.items_unchanged += 1
                    else:
                        pending.append(item)
                position += 1
                if last is not None:
                    previous = last
                last = hosted_item.id
            if not dry_run and len(pending) >= PAGE_SIZE:
                await self.store.save_imported(hosted.id, pending, context)
                outcome.items_imported += len(pending)
                pending = []
            if not page.has_next_page():
                break
            page = await api.next_page(page, f"list items of {hosted.id}")

        new_mark = dict(mark) if mark else {}
        if last is not None:
            new_mark.update(resume_after=previous, resume_position=position - 1, items=position)
        new_mark.setdefault("resume_after", None)
        new_mark.setdefault("resume_position", 0)
        new_mark.setdefault("items", 0)
        new_mark["title"] = thread.title
        retitled: ThreadMetadata | None = None
        if existing is None:
            retitled = thread
        elif mark is not None and thread.title != mark.get("title") and existing.title == mark.get("title"):
            # Retitled at OpenAI and not renamed here: follow OpenAI. A rename here wins.
            retitled = existing.model_copy(update={"title": thread.title})
        changed_mark = new_mark if new_mark != mark else None
        if not dry_run and (pending or retitled is not None or changed_mark is not None):
            await self.store.save_imported(hosted.id, pending, context, thread=retitled, mark=changed_mark)
        outcome.items_imported += len(pending)
        if existing is None:
            outcome.status = "imported"
        elif outcome.items_imported or retitled is not None:
            outcome.status = "updated"
        else:
            outcome.status = "unchanged"

    async def _load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata | None:
        try:
            return await self.store.load_thread(thread_id, context)
        except NotFoundError:
            return None

    async def _stored_as(self, thread_id: str, item: ThreadItem, context: RequestContext) -> bool:
        """Whether the store already holds exactly this item."""
        try:
            stored = await self.store.load_item(thread_id, item.id, context)
        except NotFoundError:
            return False
        return ITEM_ADAPTER.dump_json(stored) == ITEM_ADAPTER.dump_json(item)


class _Fatal(Exception):
    """Raised out of a thread's import to stop the run: the same refusal would hit every thread."""


def _stop_reason(error: openai.APIError | GarbledAnswer | _Fatal) -> str:
    """What the run answers when listing the threads cannot go on (it stops with a continuation)."""
    if isinstance(error, openai.APIError):
        return fatal(error) or (
            f"OpenAI did not list the threads ({status(error)}) in {MAX_ATTEMPTS} attempts; run again to resume."
            if retryable(error)
            else f"OpenAI refused to list the threads ({status(error)})."
        )
    if isinstance(error, GarbledAnswer):
        return f"{error}; run again to resume."
    return str(error)
