"""Secrets Manager reads with a bounded-age cache, always naming the version stage.

Powertools' ``get_secret`` caches by name only, so AWSPREVIOUS would come back as the cached
AWSCURRENT; and moto answers an unstaged read from the pre-rotation version. Naming the stage
on every read and keying the cache by (secret, stage) is right on both.

When Secrets Manager is down, a cached value keeps being served for up to ``stale_limit``
(an hour) after its last successful read: an outage must not log every user out, nor turn valid
tokens into 500s. Meanwhile a new read is tried at most every ``FAILURE_RETRY_SECONDS`` (and
with the fail-fast client, about 1.5 s at worst), and the failure is logged at most once a minute.
Past the bound, or with nothing cached, the read raises ``DependencyUnavailable`` (HTTP 503).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from chatkit_backend.errors import DependencyUnavailable
from chatkit_backend.observability.logs import Throttle, logger

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

DEFAULT_MAX_AGE_SECONDS = 60.0
STALE_LIMIT_SECONDS = 3600.0
FAILURE_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class SecretVersion:
    version_id: str
    value: str


@dataclass
class _Entry:
    read_at: float  # last successful read
    version: SecretVersion | None


class SecretCache:
    """Per-container cache of secret versions by stage; entries expire after ``max_age`` seconds."""

    def __init__(
        self,
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        *,
        stale_limit: float = STALE_LIMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age = max_age
        self.stale_limit = stale_limit
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._failed_at: dict[tuple[str, str], float] = {}
        self._warning = Throttle(60.0, clock)
        self._lock = threading.Lock()

    def get(self, secret_id: str, stage: str = CURRENT, *, force: bool = False) -> SecretVersion | None:
        """The version at ``stage``, or None when no version carries that stage (no AWSPREVIOUS yet).

        Raises ``DependencyUnavailable`` when Secrets Manager fails and no copy younger than
        ``stale_limit`` is at hand.
        """
        key = (secret_id, stage)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            failed_at = self._failed_at.get(key)
        if entry is not None and not force and now - entry.read_at < self.max_age:
            return entry.version
        usable = entry is not None and now - entry.read_at < self.stale_limit
        if failed_at is not None and now - failed_at < FAILURE_RETRY_SECONDS:
            # Failed moments ago: answer at once rather than wait on a dependency that is down.
            if usable:
                return entry.version  # type: ignore[union-attr]
            raise DependencyUnavailable("secretsmanager", "failed moments ago")
        try:
            # With a copy to fall back on, one short attempt; without, the normal retries.
            version = fetch_version(secret_id, stage, fail_fast=usable)
        except DependencyUnavailable as failure:
            with self._lock:
                self._failed_at[key] = now
            if self._warning.ready():
                logger.warning(
                    "Secrets Manager read failed",
                    extra={
                        "cause": failure.cause,
                        "stage": stage,
                        "serving_cached": usable,
                        "cached_age_seconds": None if entry is None else round(now - entry.read_at),
                    },
                )
            if usable:
                return entry.version  # type: ignore[union-attr]
            raise
        with self._lock:
            self._entries[key] = _Entry(now, version)
            self._failed_at.pop(key, None)
        return version

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._failed_at.clear()


def fetch_version(secret_id: str, stage: str = CURRENT, *, fail_fast: bool = False) -> SecretVersion | None:
    """One uncached read of ``stage``; None when the stage is not attached to any version."""
    # Imported on the first read: McpFunction builds its verifier at init, and a container that
    # only ever sees OAuth access tokens (checked against a JWKS) never needs the AWS SDK for it.
    from chatkit_backend.aws.clients import client

    secretsmanager = client("secretsmanager", fail_fast=fail_fast)
    try:
        response = secretsmanager.get_secret_value(SecretId=secret_id, VersionStage=stage)
    except secretsmanager.exceptions.ResourceNotFoundException:
        if stage == CURRENT:
            raise
        return None
    return SecretVersion(version_id=response["VersionId"], value=response["SecretString"])
