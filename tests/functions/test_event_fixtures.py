"""Every fixture in events/ runs its function, as `sam local invoke -e` and `make invoke` would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.template import ROOT, Template

FUNCTION_BY_FOLDER = {spec.folder: logical_id for logical_id, spec in Template.load().functions().items()}
# Rotation steps act on a rotation Secrets Manager has staged, one step after the other; alone they
# must fail (as they would in AWS). tests/functions/test_auth_event_fixtures.py runs them in order.
IN_ORDER_ONLY = {"rotation"}
FIXTURES = sorted(
    path for path in (ROOT / "events").glob("*/*.json") if path.parent.name not in IN_ORDER_ONLY
)


def test_every_events_folder_names_a_function() -> None:
    folders = {path.name for path in (ROOT / "events").iterdir() if path.is_dir()}
    assert folders <= set(FUNCTION_BY_FOLDER), (
        f"events/ folders without a function: {folders - set(FUNCTION_BY_FOLDER)}"
    )


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: str(p.relative_to(ROOT / "events")))
def test_fixture_invokes_its_function(fixture: Path, invoke) -> None:
    result = invoke(FUNCTION_BY_FOLDER[fixture.parent.name], json.loads(fixture.read_text()))
    if "statusCode" in (result or {}):
        assert isinstance(result["statusCode"], int) and 200 <= result["statusCode"] < 600
        assert result["statusCode"] < 500 or result["statusCode"] in (501, 502, 503, 504), result
    else:
        json.dumps(result)  # whatever a non-HTTP function returns must be JSON, as Lambda sends it
