"""The house rules of the shared layer that reading can check, checked by reading the code.

- Imports run one way: no module of the layer imports another that (at import time) imports it
  back, the package ``__init__`` files import nothing (a function pays for exactly the modules it
  names), and the layer imports nothing from ``functions/``, ``local/`` or ``tests/``.
- Every limit on what a caller sends or keeps is written in ``limits.py``.
- Only the modules listed below load botocore when imported (McpFunction's and the authorizer's
  cold start stays without it: docs/benchmarks.md).
- Tokens are read (parsed, verified) in ``auth/`` only; elsewhere a token is at most minted
  (``auth.tokens.mint_session_token``) or handed over whole.

Who reads the environment is held by tests/domain/test_settings.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / "layers/shared/python"
PACKAGE = "chatkit_backend"
FUNCTIONS = sorted((ROOT / "functions").glob("*/app.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PYTHON).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted((PYTHON / PACKAGE).rglob("*.py"))}


def import_time_imports(path: Path) -> set[str]:
    """The modules ``path`` imports when it is imported: its top-level statements (``try`` and
    ``if`` blocks included), not function bodies and not ``if TYPE_CHECKING:``."""
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                    visit(node.body)
                    visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def layer_imports(name: str) -> set[str]:
    """The layer's modules (and their packages) that ``name`` imports at import time."""
    found = set()
    for target in import_time_imports(MODULES[name]):
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            prefix = ".".join(parts[:end])
            if prefix in MODULES and prefix != name:
                found.add(prefix)
    return found


def reaches(name: str, wanted: str) -> bool:
    """Whether importing ``name`` imports ``wanted`` (a top-level package), through the layer."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if any(target.split(".")[0] == wanted for target in import_time_imports(MODULES[current])):
            return True
        todo.extend(layer_imports(current))
    return False


def test_package_init_files_import_nothing() -> None:
    for path in MODULES.values():
        if path.name == "__init__.py":
            assert not import_time_imports(path), f"{path.relative_to(ROOT)} imports: keep it empty"


def test_no_module_of_the_layer_imports_itself_back() -> None:
    graph = {name: layer_imports(name) for name in MODULES}
    cycles = []
    for start, imported in graph.items():
        seen, todo = set(), list(imported)
        while todo:
            current = todo.pop()
            if current == start:
                cycles.append(start)
                break
            if current not in seen:
                seen.add(current)
                todo.extend(graph[current])
    assert cycles == []


def test_the_layer_imports_neither_functions_nor_local_nor_tests() -> None:
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not [m for m in modules if m.split(".")[0] in ("functions", "local", "tests")], name


# Bounds on what a caller sends or keeps: sizes, counts, lengths, lifetimes. Other module-level
# constants with these words are our own tuning (caches, retries, timeouts) or bounds on what an
# upstream sends back, and are named here with why.
LIMIT_NAME = re.compile(r"(^|_)(MAX|MIN)(_|$)|_LIMIT(_|$)")
NOT_CALLER_LIMITS = {
    "auth.jwks": {
        "MAX_AGE_SECONDS",
        "STALE_LIMIT_SECONDS",
        "MAX_JWKS_BYTES",
    },  # the cache; a JWKS host's answer
    "auth.authorization_server": {"MAX_INTROSPECTION_BYTES"},  # an introspection answer
    "auth.resource_server": {"METADATA_MAX_AGE_SECONDS"},  # how long clients may cache the metadata
    "auth.rotation": {"MIN_KEY_BYTES"},  # the signing key the rotation itself makes
    "chat.app": {"MAX_READ_BYTES"},  # one byte past limits.TRANSCRIBE_BODY_MAX_BYTES, to tell "too large"
    "aws.secrets": {"DEFAULT_MAX_AGE_SECONDS", "STALE_LIMIT_SECONDS"},  # the secret cache
    "migration.hosted_import": {"MAX_CONCURRENCY"},  # threads imported at once (IMPORT_CONCURRENCY)
    "migration.hosted_api": {"MAX_ATTEMPTS", "MAX_BACKOFF_SECONDS", "MAX_RETRY_AFTER_SECONDS"},  # retries
}


def test_every_limit_on_callers_is_in_limits_py() -> None:
    elsewhere = {}
    for name, path in MODULES.items():
        short = name.removeprefix(f"{PACKAGE}.")
        if short == "limits":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            allowed = NOT_CALLER_LIMITS.get(short, set())
            for target in targets:
                if isinstance(target, ast.Name) and LIMIT_NAME.search(target.id) and target.id not in allowed:
                    elsewhere.setdefault(short, []).append(target.id)
    assert elsewhere == {}, "move these limits to limits.py (or name them in NOT_CALLER_LIMITS, with why)"


# The modules whose import loads botocore: the AWS clients and every module that imports them at
# import time. McpFunction's path (mcp.server, tasks.tools, users.usage) and the authorizer's
# (auth.*) load it only when a request reads a secret or a table, from inside a function.
LOADS_BOTOCORE = {
    "auth.rotation",
    "aws.clients",
    "chat.actions",
    "chat.agent",
    "chat.app",
    "chat.attachment_keys",
    "chat.attachments",
    "chat.checks",
    "chat.model_input",
    "chat.records",
    "chat.server",
    "chat.sessions",
    "chat.store.attachments",
    "chat.store.context",
    "chat.store.dynamodb",
    "chat.store.feedback",
    "chat.store.items",
    "chat.store.table",
    "chat.store.threads",
    "chat.threads",
    "chat.widgets",
    "migration.convert",
    "migration.hosted_import",
    "migration.store",
    "openai_api.key",
    "tasks.service",
    "users.data",
    "users.service",
}


def test_only_these_modules_load_botocore() -> None:
    loading = {name.removeprefix(f"{PACKAGE}.") for name in MODULES if reaches(name, "botocore")}
    assert loading == LOADS_BOTOCORE


@pytest.mark.parametrize("name", ["mcp.server", "auth.authorizer", "auth.resource_server", "tasks.tools"])
def test_the_cold_paths_of_mcp_and_the_authorizer_load_no_botocore(name: str) -> None:
    assert not reaches(f"{PACKAGE}.{name}", "botocore")


# What reading a token looks like in code: PyJWT, the header that carries it, the verifier and
# its parts. Minting a session token (auth.tokens.mint_session_token) is not reading one.
TOKEN_READERS = {"bearer_token", "TokenVerifier", "build_verifier", "SigningKeys", "verify", "decode"}


def token_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "jwt" for alias in node.names):
            found.append(f"{node.lineno} import jwt")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "jwt":
            found.append(f"{node.lineno} from jwt")
        elif isinstance(node, ast.Name) and node.id in TOKEN_READERS:
            found.append(f"{node.lineno} {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in TOKEN_READERS and node.attr != "decode":
            found.append(f"{node.lineno} .{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.lower() == "authorization"
        ):
            found.append(f"{node.lineno} the Authorization header")
    return found


def test_tokens_are_read_in_auth_only() -> None:
    readers = {
        str(path.relative_to(ROOT)): reads
        for path in [*MODULES.values(), *FUNCTIONS]
        if not path.is_relative_to(PYTHON / PACKAGE / "auth")
        for reads in [token_reads(path)]
        if reads
    }
    assert readers == {}


def test_the_check_finds_what_auth_reads() -> None:
    """Not vacuous: the verifier's own module reads tokens by every measure above."""
    reads = " ".join(token_reads(PYTHON / PACKAGE / "auth" / "tokens.py"))
    assert "import jwt" in reads and "SigningKeys" in reads
    assert "the Authorization header" in " ".join(
        token_reads(PYTHON / PACKAGE / "auth" / "resource_server.py")
    )
