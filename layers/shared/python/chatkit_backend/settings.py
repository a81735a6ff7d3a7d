"""Typed settings read once per container from the function's environment.

Every function builds exactly one settings object through these readers, so configuration
has one entry point and a missing value fails with the variable's name. Secrets never come
from here: the environment only names the secret (its ARN), Secrets Manager holds the value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


def env_str(name: str, default: str = "") -> str:
    """The variable's value with surrounding blanks removed, or ``default`` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name).lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"environment variable {name} must be true or false, got {raw!r}")


def env_list(name: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped (``ALLOWED_ORIGINS=https://a, https://b``)."""
    return tuple(item.strip() for item in env_str(name).split(",") if item.strip())


@dataclass(frozen=True)
class HealthSettings:
    service: str
    stage: str

    @classmethod
    def from_env(cls) -> HealthSettings:
        return cls(service=env_str("POWERTOOLS_SERVICE_NAME", "chatkit-backend"), stage=env_str("STAGE", "dev"))
