"""One settings pattern: each function builds one typed settings object at init from its
environment, and hands it to the service it builds; nothing else reads the environment."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest
from chatkit_backend.settings import EnvSettings, env

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers/shared/python/chatkit_backend"
FUNCTIONS = sorted((ROOT / "functions").glob("*/app.py"))
READERS = {"env_str", "env_int", "env_bool", "env_list", "getenv", "environ"}
# Observability, configured once per container the way Powertools configures itself, is not a
# service's settings.
OBSERVABILITY = {LAYER / "observability" / "metrics.py"}


def environment_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # Setting a variable for a library that reads it (the X-Ray trace id) is not a read.
    written = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
    }
    found = []
    for node in ast.walk(tree):
        name = (
            node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        )
        if name in READERS and id(node) not in written:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return found


def test_only_the_settings_module_reads_the_environment() -> None:
    modules = [
        path
        for path in sorted(LAYER.rglob("*.py"))
        if path != LAYER / "settings.py" and path not in OBSERVABILITY
    ]
    assert [read for path in modules for read in environment_reads(path)] == []


@pytest.mark.parametrize("app", FUNCTIONS, ids=[path.parent.name for path in FUNCTIONS])
def test_a_function_names_its_singletons_one_way(app: Path) -> None:
    """Module-level objects are lower-case: ``settings`` (read once, ``XSettings.from_env()``),
    ``service`` (what the handler delegates to), ``app`` (ASGI) and ``handler``."""
    tree = ast.parse(app.read_text(encoding="utf-8"))
    assigned = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert all(name == name.lower() for name in assigned), sorted(assigned)
    from_env_calls = [
        name
        for name, value in assigned.items()
        if isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "from_env"
    ]
    assert from_env_calls in ([], ["settings"])
    assert "settings" not in assigned or from_env_calls == ["settings"]


@dataclass(frozen=True)
class Example(EnvSettings):
    table: str = env("EXAMPLE_TABLE")
    origins: tuple[str, ...] = env("EXAMPLE_ORIGINS")
    model: str = env("EXAMPLE_MODEL", "gpt-x")
    size: int = env("EXAMPLE_SIZE", 10)
    seconds: float = env("EXAMPLE_SECONDS", 45.0)
    enabled: bool = env("EXAMPLE_ENABLED", False)


@dataclass(frozen=True)
class Nested(EnvSettings):
    example: Example
    stage: str = env("EXAMPLE_STAGE", "dev")


NAMES = [
    "EXAMPLE_TABLE",
    "EXAMPLE_ORIGINS",
    "EXAMPLE_MODEL",
    "EXAMPLE_SIZE",
    "EXAMPLE_SECONDS",
    "EXAMPLE_ENABLED",
    "EXAMPLE_STAGE",
]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_unset_variables_give_the_declared_defaults(environ: pytest.MonkeyPatch) -> None:
    assert Nested.from_env() == Nested(Example("", (), "gpt-x", 10, 45.0, False), "dev")


def test_each_field_is_read_by_its_type(environ: pytest.MonkeyPatch) -> None:
    for name, value in zip(NAMES, ["tasks ", "https://a, ,https://b", "gpt-y", "7", "30", "yes", "prod"]):
        environ.setenv(name, value)
    assert Nested.from_env() == Nested(
        Example("tasks", ("https://a", "https://b"), "gpt-y", 7, 30.0, True), "prod"
    )


@pytest.mark.parametrize(
    ("name", "value"), [("EXAMPLE_SIZE", "ten"), ("EXAMPLE_SECONDS", "4.5"), ("EXAMPLE_ENABLED", "maybe")]
)
def test_a_value_of_the_wrong_type_names_its_variable(
    environ: pytest.MonkeyPatch, name: str, value: str
) -> None:
    environ.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        Example.from_env()


@dataclass(frozen=True)
class Bounded(EnvSettings):
    size: int = env("EXAMPLE_SIZE", 10, between=(1, 16))


@pytest.mark.parametrize(("value", "expected"), [(None, 10), ("1", 1), ("16", 16)])
def test_a_bounded_number_inside_its_range_is_read(
    environ: pytest.MonkeyPatch, value: str | None, expected: int
) -> None:
    if value is not None:
        environ.setenv("EXAMPLE_SIZE", value)
    assert Bounded.from_env().size == expected


@pytest.mark.parametrize("value", ["0", "17", "-1", "100000"])
def test_a_bounded_number_outside_its_range_stops_the_start_naming_variable_and_range(
    environ: pytest.MonkeyPatch, value: str
) -> None:
    environ.setenv("EXAMPLE_SIZE", value)
    with pytest.raises(ValueError, match=rf"^EXAMPLE_SIZE must be 1 to 16, got {value}$"):
        Bounded.from_env()
