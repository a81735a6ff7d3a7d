"""The build check's verdicts on built artifacts, shown on small hand-made ones.

`make build-check` runs the real thing (sam build + imports); these pin down what it refuses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.build.build_check import (
    CheckFailed,
    build_template,
    check_distributions,
    check_layer_files,
    installed,
)
from local.template import ROOT, Template

TESTED = {"pydantic": "2.13.5", "typing-extensions": "4.16.0", "anyio": "4.16.0"}


def install(directory: Path, name: str, version: str, *requires: str) -> None:
    info = directory / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def found(tmp_path: Path, layout: dict[str, list[tuple[str, ...]]]) -> list:
    items = []
    for where, packages in layout.items():
        for package in packages:
            install(tmp_path / where, *package)
        items += installed(tmp_path / where, where)
    return items


def test_a_complete_artifact_at_the_tested_versions_passes(tmp_path: Path) -> None:
    layout = {
        "Fn": [("pydantic", "2.13.5", "typing-extensions>=4.6", "email-validator; extra == 'email'")],
        "Layer": [
            ("typing-extensions", "4.16.0"),
            ("anyio", "4.16.0", "exceptiongroup; python_version < '3.11'"),
        ],
    }
    check_distributions("Fn", found(tmp_path, layout), TESTED)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({"Fn": [("pydantic", "2.14.4")]}, "Fn ships pydantic 2.14.4, the tests run 2.13.5"),
        ({"Fn": [("left-pad", "1.0")]}, "ships left-pad 1.0, the tests run none"),
        (
            {"Fn": [("typing-extensions", "4.16.0")], "Layer": [("typing-extensions", "4.16.0")]},
            "typing-extensions ships twice",
        ),
        (
            {"Fn": [("pydantic", "2.13.5", "typing-extensions>=4.6")]},
            "requires typing-extensions>=4.6, found nothing",
        ),
        (
            {
                "Fn": [("pydantic", "2.13.5", "typing-extensions>=5")],
                "Layer": [("typing-extensions", "4.16.0")],
            },
            "found 4.16.0",
        ),
    ],
    ids=["untested-version", "untested-package", "twice", "missing-dependency", "dependency-too-old"],
)
def test_what_the_check_refuses(tmp_path: Path, layout: dict, message: str) -> None:
    with pytest.raises(CheckFailed, match=message):
        check_distributions("Fn", found(tmp_path, layout), TESTED)


def test_a_layer_artifact_must_carry_every_file_of_its_source(tmp_path: Path) -> None:
    source, artifact = tmp_path / "source", tmp_path / "built" / "python"
    for root in (source, artifact):
        (root / "pkg" / "mcp").mkdir(parents=True)
        (root / "pkg" / "__init__.py").write_text("")
    (source / "pkg" / "mcp" / "task_view.html").write_text("<!doctype html>")
    with pytest.raises(CheckFailed, match=r"Shared: pkg/mcp/task_view.html is not in its built artifact"):
        check_layer_files("Shared", source, artifact)
    (artifact / "pkg" / "mcp" / "task_view.html").write_text("<!doctype html>")
    assert check_layer_files("Shared", source, artifact) == 2


def test_the_runtimes_own_boto3_is_not_held_to_the_pins(tmp_path: Path) -> None:
    # boto3 comes with Lambda's runtime: it is not checked against the pins as a shipped package.
    layout = {"Fn": [("pydantic", "2.13.5")], "runtime": [("boto3", "1.40.0")]}
    check_distributions("Fn", found(tmp_path, layout), TESTED)


def test_the_build_template_targets_the_asked_architecture_with_absolute_code_paths() -> None:
    body = build_template(Template.load(), "x86_64")
    assert body["Globals"]["Function"]["Architectures"] == ["x86_64"]
    for resource in body["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in props:
                assert Path(props[key]).is_absolute() and Path(props[key]).is_relative_to(ROOT)
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            assert props["CompatibleArchitectures"] == ["x86_64"]
            assert resource["Metadata"]["BuildArchitecture"] == "x86_64"
    # template.yaml itself still deploys arm64.
    assert Template.load().body["Globals"]["Function"]["Architectures"] == ["arm64"]


def run_without_python313(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    """The build check on a machine whose only python3.13 is a broken pyenv shim."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # SAM CLI stands in as a script that accepts `sam validate`; the interpreter search is real.
    (bin_dir / "sam").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "python3.13").write_text(
        "#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n"
    )
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "local.build.build_check", "--sam", str(bin_dir / "sam")],
        cwd=ROOT,
        env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("ci", "exit_code"), [(False, 0), (True, 1)], ids=["developer", "ci"])
def test_without_python313_the_check_says_so_in_one_line_and_ci_fails(
    tmp_path: Path, ci: bool, exit_code: int
) -> None:
    done = run_without_python313(tmp_path, ci)
    assert done.returncode == exit_code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no python3.13 with pip on this machine" in lines[0]
    assert done.stdout == ""
