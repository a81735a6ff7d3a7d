"""What one run of the import asks for and reports: the request, its continuation token, each
thread's outcome and the run's totals."""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from chatkit_backend import limits
from chatkit_backend.errors import InvalidInput

TOKEN_VERSION = 1


@dataclass(frozen=True)
class ImportRequest:
    """One invocation's input: which threads, whether to write, and where to resume."""

    user: str | None = None
    dry_run: bool = False
    after: str | None = None  # the hosted thread id the previous invocation got to
    totals: dict[str, Any] = field(default_factory=dict)  # carried across invocations

    @classmethod
    def from_event(cls, event: Any) -> ImportRequest:
        """``{"user"?, "dry_run"?, "continuation"?}``; ``InvalidInput`` naming what is wrong."""
        if event is None:
            event = {}
        if not isinstance(event, dict):
            raise InvalidInput('The event must be a JSON object: {"user"?, "dry_run"?, "continuation"?}.')
        unknown = sorted(set(event) - {"user", "dry_run", "continuation"})
        if unknown:
            raise InvalidInput(
                f"Unknown field(s) {', '.join(unknown)}: the event takes user, dry_run and continuation."
            )
        user = event.get("user")
        if user is not None and (
            not isinstance(user, str) or not user.strip() or len(user) > limits.USER_ID_MAX_CHARS
        ):
            raise InvalidInput(
                f"user must be a user id: a string of 1 to {limits.USER_ID_MAX_CHARS} characters."
            )
        dry_run = event.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise InvalidInput("dry_run must be true or false.")
        token = event.get("continuation")
        if token is None:
            return cls(user=user, dry_run=dry_run)
        resumed = cls.from_token(token)
        if ("user" in event and user != resumed.user) or ("dry_run" in event and dry_run != resumed.dry_run):
            raise InvalidInput(
                "user and dry_run must match the run the continuation came from (or be left out)."
            )
        return resumed

    @classmethod
    def from_token(cls, token: Any) -> ImportRequest:
        invalid = InvalidInput("continuation is not a token this import returned: pass it back unchanged.")
        if not isinstance(token, str) or not 0 < len(token) <= 4096:
            raise invalid
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        except (ValueError, binascii.Error):
            raise invalid from None
        if not isinstance(state, dict) or state.get("v") != TOKEN_VERSION:
            raise invalid
        user, dry_run, after, totals = (
            state.get("user"),
            state.get("dry_run"),
            state.get("after"),
            state.get("totals"),
        )
        if not (user is None or isinstance(user, str)) or not isinstance(dry_run, bool):
            raise invalid
        if not (after is None or isinstance(after, str)) or not isinstance(totals, dict):
            raise invalid
        return cls(user=user, dry_run=dry_run, after=after, totals=totals)

    def token(self, after: str | None, totals: Totals) -> str:
        state = {
            "v": TOKEN_VERSION,
            "user": self.user,
            "dry_run": self.dry_run,
            "after": after,
            "totals": totals.as_dict(),
        }
        return (
            base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
        )


ThreadStatus = Literal["imported", "updated", "unchanged", "skipped", "failed"]


@dataclass
class ThreadOutcome:
    """What happened to one hosted thread."""

    thread_id: str
    user_id: str
    status: ThreadStatus = "failed"
    items_imported: int = 0
    items_unchanged: int = 0
    items_failed: Counter[str] = field(default_factory=Counter)  # by hosted item type
    reason: str = ""

    def line(self, dry_run: bool = False) -> str:
        """One progress line, for a person watching; no titles or texts (they are the user's)."""
        verb = (
            f"would be {self.status}" if dry_run and self.status in ("imported", "updated") else self.status
        )
        parts = [f"thread {self.thread_id} (user {self.user_id}): {verb}"]
        if self.items_imported or self.items_unchanged or self.items_failed:
            items = f"{self.items_imported} items {'to import' if dry_run else 'imported'}, {self.items_unchanged} already here"
            if self.items_failed:
                items += ", " + _by_type(self.items_failed) + " not convertible"
            parts.append(items)
        if self.reason:
            parts.append(self.reason)
        return "; ".join(parts)


@dataclass
class Totals:
    """Counts over a run (and over the invocations a continuation chains)."""

    threads: Counter[str] = field(default_factory=Counter)  # by ThreadStatus
    items_imported: int = 0
    items_unchanged: int = 0
    items_failed: Counter[str] = field(default_factory=Counter)  # not convertible, by hosted type

    def add(self, outcome: ThreadOutcome) -> None:
        self.threads[outcome.status] += 1
        self.items_imported += outcome.items_imported
        self.items_unchanged += outcome.items_unchanged
        self.items_failed.update(outcome.items_failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "threads": {
                status: self.threads[status]
                for status in ("imported", "updated", "unchanged", "skipped", "failed")
            },
            "items": {
                "imported": self.items_imported,
                "skipped": self.items_unchanged,
                "failed": sum(self.items_failed.values()),
                "failed_by_type": dict(sorted(self.items_failed.items())),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Totals:
        totals = cls()
        try:
            totals.threads.update({str(k): int(v) for k, v in (data.get("threads") or {}).items()})
            items = data.get("items") or {}
            totals.items_imported = int(items.get("imported", 0))
            totals.items_unchanged = int(items.get("skipped", 0))
            totals.items_failed.update(
                {str(k): int(v) for k, v in (items.get("failed_by_type") or {}).items()}
            )
        except (AttributeError, TypeError, ValueError):
            raise InvalidInput(
                "continuation is not a token this import returned: pass it back unchanged."
            ) from None
        return totals

    def summary(self, dry_run: bool = False) -> str:
        t = self.threads
        text = (
            f"threads: {t['imported']} imported, {t['updated']} updated, {t['unchanged']} unchanged, "
            f"{t['skipped']} skipped, {t['failed']} failed; "
            f"items: {self.items_imported} imported, {self.items_unchanged} skipped (already here), "
            f"{sum(self.items_failed.values())} failed"
        )
        if self.items_failed:
            text += f" ({_by_type(self.items_failed)}: not convertible)"
        return text + (" [dry run: nothing was written]" if dry_run else "")


def _by_type(counts: Counter[str]) -> str:
    return ", ".join(f"{kind} ×{count}" for kind, count in sorted(counts.items()))


@dataclass
class RunResult:
    totals: Totals
    dry_run: bool
    continuation: str | None = None  # None: every thread was visited
    error: str | None = None  # the run stopped on something no retry fixes (a refused key)

    @property
    def done(self) -> bool:
        return self.continuation is None and self.error is None

    def as_dict(self) -> dict[str, Any]:
        """The function's answer: pass ``continuation`` back until ``done``."""
        return {
            "done": self.done,
            "continuation": self.continuation,
            "dry_run": self.dry_run,
            "totals": self.totals.as_dict(),
            "summary": self.totals.summary(self.dry_run),
            **({"error": self.error} if self.error else {}),
        }
