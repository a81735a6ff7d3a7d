"""The task view McpFunction serves (chatkit_backend/mcp/task_view.html) is committed built, so
Lambda needs no build step: it must be exactly what its source and lock file build
(layers/shared/views/tasks; `make view` rebuilds it), and it must stay small."""

from __future__ import annotations

from pathlib import Path

from local.template import ROOT
from tests.support.node import npm_ci, require_node, run_node

SOURCE = ROOT / "layers" / "shared" / "views" / "tasks"
BUILT = ROOT / "layers" / "shared" / "python" / "chatkit_backend" / "mcp" / "task_view.html"
# One HTML document holding the view, the extension's App class and what it needs; today about
# 168 kB. A framework or an unbundled dependency would show here first.
MAX_BYTES = 200_000


def test_the_committed_view_is_what_its_source_builds(tmp_path: Path) -> None:
    require_node()
    npm_ci(SOURCE)
    rebuilt = tmp_path / "task_view.html"
    run_node(SOURCE, "build.mjs", str(rebuilt))
    assert rebuilt.read_bytes() == BUILT.read_bytes(), (
        "chatkit_backend/mcp/task_view.html is not what layers/shared/views/tasks builds: run `make view` and commit it"
    )


def test_the_view_is_one_small_document_outside_the_shipped_source() -> None:
    assert len(BUILT.read_bytes()) <= MAX_BYTES
    # The view's source and node_modules sit beside the layer's content, so Lambda never gets them.
    assert not SOURCE.is_relative_to(BUILT.parents[2])
