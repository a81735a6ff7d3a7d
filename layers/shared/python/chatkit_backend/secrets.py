"""Secrets Manager reads with a bounded-age cache, always naming the version stage.

Powertools' ``get_secret`` caches by name only, so AWSPREVIOUS would come back as the cached
AWSCURRENT; and moto answers an unstaged read from the pre-rotation version. Naming the stage
on every read and keying the cache by (secret, stage) is right on both.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

DEFAULT_MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True)
class SecretVersion:
    version_id: str
    value: str


class SecretCache:
    """Per-container cache of secret versions by stage; entries expire after ``max_age`` seconds."""

    def __init__(self, max_age: float = DEFAULT_MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._entries: dict[tuple[str, str], tuple[float, SecretVersion | None]] = {}
        self._lock = threading.Lock()

    def get(self, secret_id: str, stage: str = CURRENT, *, force: bool = False) -> SecretVersion | None:
        """The version at ``stage``, or None when no version carries that stage (no AWSPREVIOUS yet)."""
        key = (secret_id, stage)
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and not force and now - cached[0] < self.max_age:
            return cached[1]
        version = fetch_version(secret_id, stage)
        with self._lock:
            self._entries[key] = (now, version)
        return version

    def age(self, secret_id: str, stage: str = CURRENT) -> float | None:
        """Seconds since ``stage`` was last read, or None if never."""
        with self._lock:
            cached = self._entries.get((secret_id, stage))
        return None if cached is None else time.monotonic() - cached[0]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def fetch_version(secret_id: str, stage: str = CURRENT) -> SecretVersion | None:
    """One uncached read of ``stage``; None when the stage is not attached to any version."""
    # Imported on the first read: McpFunction builds its verifier at init, and a container that
    # only ever sees OAuth access tokens (checked against a JWKS) never needs the AWS SDK for it.
    from chatkit_backend.aws import client

    secretsmanager = client("secretsmanager")
    try:
        response = secretsmanager.get_secret_value(SecretId=secret_id, VersionStage=stage)
    except secretsmanager.exceptions.ResourceNotFoundException:
        if stage == CURRENT:
            raise
        return None
    return SecretVersion(version_id=response["VersionId"], value=response["SecretString"])
