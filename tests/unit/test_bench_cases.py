"""Every `make bench` row can run: its handler loads as a probe loads it, its events exist.

The benchmark is run by hand, so a row broken by a change elsewhere (a function that became a
web app, a renamed fixture) would otherwise surface only when someone next runs it.
"""

from __future__ import annotations

import pytest

from local.bench.__main__ import discover
from local.template import ROOT, Template

CASES = discover()
FUNCTIONS = Template.load().functions()


def test_every_group_has_exactly_one_of_our_rows_to_compare_with() -> None:
    groups: dict[str, int] = {}
    for case in CASES:
        groups[case.group] = groups.get(case.group, 0) + case.baseline
    assert groups and all(count == 1 for count in groups.values()), groups


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.group}: {c.name}")
def test_case_names_a_loadable_handler_and_existing_events(case) -> None:
    events = (case.event,) if isinstance(case.event, str) else case.event
    assert all((ROOT / event).is_file() for event in events), events
    if case.handler in FUNCTIONS:
        spec = FUNCTIONS[case.handler]
        assert not spec.web_adapter, f"{case.handler} is a web app behind the adapter, not a handler the probe can import"
        module, _ = spec.handler.rsplit(".", 1)
        assert (spec.code_dir / f"{module}.py").is_file()
    else:
        path, function = case.handler.rsplit(":", 1)
        assert (ROOT / path).is_file() and function.isidentifier(), case.handler
