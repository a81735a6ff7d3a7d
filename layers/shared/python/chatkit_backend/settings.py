"""Typed settings read once per container from the function's environment.

The one pattern: a function's settings are a frozen dataclass of ``EnvSettings`` whose fields
name their variables (``table: str = env("TASKS_TABLE")``). ``functions/<name>/app.py`` calls
``XSettings.from_env()`` once at init and hands the object to the service it builds; nothing
else reads the environment (domain modules only declare what they need). A value that cannot
be read fails with the variable's name. Secrets never come from here: the environment only
names the secret (its ARN), Secrets Manager holds the value.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from typing import Any, Self


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


_NO_DEFAULT: Any = object()


def env(name: str, default: Any = _NO_DEFAULT, *, between: tuple[int, int] | None = None) -> Any:
    """A settings field read from the variable ``name``; ``default`` when it is unset or blank
    (without one: blank for text and lists, and the field must be given when built by hand).
    ``between``: the lowest and highest values a number may take (``from_env`` fails outside)."""
    metadata = {"env": name, "default": default, "between": between}
    if default is _NO_DEFAULT:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class EnvSettings:
    """Base of every function's settings dataclass: ``from_env`` reads each ``env`` field by its
    annotation (str, int, float, bool, ``tuple[str, ...]`` as a comma-separated list) and builds
    a nested ``EnvSettings`` field from its own fields."""

    @classmethod
    def from_env(cls) -> Self:
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            kind = hints[field.name]
            if isinstance(kind, type) and issubclass(kind, EnvSettings):
                values[field.name] = kind.from_env()
            elif "env" in field.metadata:
                name = field.metadata["env"]
                values[field.name] = value = _read(name, kind, field.metadata["default"])
                between = field.metadata["between"]
                if between is not None and not between[0] <= value <= between[1]:
                    raise ValueError(f"{name} must be {between[0]} to {between[1]}, got {value}")
        return cls(**values)


def _read(name: str, kind: Any, default: Any) -> Any:
    if kind is str:
        return env_str(name, "" if default is _NO_DEFAULT else default)
    if kind is bool:
        return env_bool(name, default)
    if kind is int:
        return env_int(name, default)
    if kind is float:
        # Whole seconds in the template's parameters: read as an integer, used as a float.
        return float(env_int(name, default))
    if kind == tuple[str, ...]:
        return env_list(name)
    raise TypeError(f"settings field for {name} has a type the environment cannot give: {kind}")


@dataclass(frozen=True)
class HealthSettings(EnvSettings):
    service: str = env("POWERTOOLS_SERVICE_NAME", "chatkit-backend")
    stage: str = env("STAGE", "dev")
