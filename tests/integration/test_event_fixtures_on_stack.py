"""Every fixture in events/ runs with `make invoke` while `make dev` is up, against the stack's AWS.

`make invoke` is a process per event; here one process per function runs its events through
the same code (``local.emulator.invoke.invoke``), with the environment `make invoke` starts from restored
before each event, so the suite pays one start-up per function instead of one per fixture. The
rotation fixtures run in Secrets Manager's order and leave the stack's TokenSigningSecret rotated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.emulator.rotate import STEPS
from local.template import ROOT, Template
from tests.support.local_stack import RunningStack, start_stack

pytestmark = pytest.mark.integration

FUNCTION_BY_FOLDER = {spec.folder: logical_id for logical_id, spec in Template.load().functions().items()}
ROTATION_ORDER = ("create_secret", "set_secret", "test_secret", "finish_secret")
FIXTURES = sorted(
    (ROOT / "events").glob("*/*.json"),
    key=lambda p: (p.parent.name, ROTATION_ORDER.index(p.stem) if p.parent.name == "rotation" else 0, p.name),
)
# Runs each event given on stdin (one path a line) as `make invoke` would, printing one JSON line each.
DRIVER = """
import json, os, sys
from pathlib import Path
from local.emulator.invoke import invoke
function, start = sys.argv[1], dict(os.environ)
out = sys.stdout
sys.stdout = sys.stderr
for line in sys.stdin:
    os.environ.clear()
    os.environ.update(start)
    returned, result = invoke(function, json.loads(Path(line.strip()).read_text()))
    out.write(json.dumps({"fixture": line.strip(), "returned": returned, "result": result}, default=str) + "\\n")
    out.flush()
"""


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with start_stack() as running:
        yield running


@pytest.fixture(scope="module")
def results(stack: RunningStack) -> dict[str, dict[str, Any]]:
    by_function: dict[str, list[Path]] = {}
    for fixture in FIXTURES:
        by_function.setdefault(FUNCTION_BY_FOLDER[fixture.parent.name], []).append(fixture)
    results: dict[str, dict[str, Any]] = {}
    for function, fixtures in by_function.items():
        done = subprocess.run(
            [sys.executable, "-c", DRIVER, function],
            cwd=ROOT,
            env=stack.environment(),
            capture_output=True,
            text=True,
            timeout=300,
            input="".join(f"{f.relative_to(ROOT)}\n" for f in fixtures),
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        for line in done.stdout.splitlines():
            result = json.loads(line)
            results[result["fixture"]] = result
        assert "running local stack" in done.stderr
    return results


def test_every_events_folder_names_a_function() -> None:
    assert {p.parent.name for p in FIXTURES} <= set(FUNCTION_BY_FOLDER)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: str(p.relative_to(ROOT / "events")))
def test_fixture_runs_against_the_running_stack(fixture: Path, results: dict[str, dict[str, Any]]) -> None:
    outcome = results[str(fixture.relative_to(ROOT))]
    result = outcome["result"]

    assert outcome["returned"], result
    if isinstance(result, dict) and "statusCode" in result:
        assert result["statusCode"] < 500 or result["statusCode"] in (501, 502, 503, 504), result


def test_the_rotation_fixtures_rotated_the_stacks_signing_key(
    stack: RunningStack, results: dict[str, dict[str, Any]]
) -> None:
    assert [json.loads((ROOT / f).read_text())["Step"] for f in results if "/rotation/" in f] == list(STEPS)
    token = json.loads((ROOT / "events" / "rotation" / "create_secret.json").read_text())[
        "ClientRequestToken"
    ]
    secretsmanager = stack.client("secretsmanager")
    stages = secretsmanager.describe_secret(SecretId=stack.physical_id("TokenSigningSecret"))[
        "VersionIdsToStages"
    ]

    assert stages[token] == ["AWSCURRENT"]
    assert sum("AWSPREVIOUS" in labels for labels in stages.values()) == 1
