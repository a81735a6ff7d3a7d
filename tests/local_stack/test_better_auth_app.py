"""The tests of Node.js projects (the Better Auth app, the MCP Apps host, the conformance suite,
the task view's build) are skipped only where they cannot run, and never under CI=true."""

from __future__ import annotations

import pytest

from tests.support import better_auth_app, node


def test_without_node_the_tests_skip_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="Node.js and npm are not installed"):
        node.require_node()


def test_under_ci_a_missing_node_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="may not be skipped"):
        node.require_node()


def test_the_app_pins_the_whole_better_auth_set_exactly() -> None:
    """The 1.7.5 add-ons pin better-call and @better-auth/utils exactly: the set is installed together."""
    import json

    package = json.loads((better_auth_app.APP / "package.json").read_text())
    lock = json.loads((better_auth_app.APP / "package-lock.json").read_text())
    assert package["dependencies"]["better-auth"] == package["dependencies"]["@better-auth/mcp"] == "1.7.5"
    assert all(not version.startswith(("^", "~")) for version in package["dependencies"].values())
    assert lock["packages"]["node_modules/better-auth"]["version"] == "1.7.5"
