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
        assert not spec.web_adapter, (
            f"{case.handler} is a web app behind the adapter, not a handler the probe can import"
        )
        module, _ = spec.handler.rsplit(".", 1)
        assert (spec.code_dir / f"{module}.py").is_file()
    else:
        path, function = case.handler.rsplit(":", 1)
        assert (ROOT / path).is_file() and function.isidentifier(), case.handler


def test_load_rows_compare_throughput_and_latency_with_their_groups_baseline() -> None:
    from local.bench.__main__ import discover_load
    from local.bench.load import Row, load_table

    assert {group.group for group in discover_load()} >= {"gateway: kept-alive vs fresh connection"}
    rows = [
        Row("throughput", "1 connection", 20.0, 40.0, per_second=50.0, baseline=True),
        Row("throughput", "64 connections", 600.0, 900.0, per_second=90.0),
        Row("latency", "fresh", 2.0, 3.0, baseline=True),
        Row("latency", "kept-alive", 1.0, 2.0),
    ]
    ratios = [
        line.split()[-1]
        for line in load_table(rows).splitlines()
        if line.startswith(("1 conn", "64 conn", "fresh", "kept"))
    ]
    assert ratios == ["1.00", "1.80", "1.00", "0.50"]


def test_a_row_that_counts_something_else_shows_its_unit_and_no_ratio() -> None:
    from local.bench.load import Row, load_table

    rows = [
        Row("turn", "floor", 10.0, 12.0, baseline=True),
        Row("turn", "round trips", 3, 4, unit="round trips"),
    ]
    [line] = [line for line in load_table(rows).splitlines() if line.startswith("round trips")]
    assert line.split()[2:] == ["3", "4", "-", "0", "-", "round", "trips"]


@pytest.mark.parametrize(
    ("a", "b", "both", "a_only"),
    [
        ([(0, 10)], [(2, 3), (5, 7)], [(2, 3), (5, 7)], [(0, 2), (3, 5), (7, 10)]),
        ([(0, 2), (4, 6)], [(1, 5)], [(1, 2), (4, 5)], [(0, 1), (5, 6)]),
        ([(0, 2)], [(2, 4)], [], [(0, 2)]),
        ([(1, 2)], [(0, 3)], [(1, 2)], []),
        ([(0, 1)], [], [], [(0, 1)]),
    ],
)
def test_the_turn_benchmark_adds_up_time_spans_exactly(a, b, both, a_only) -> None:
    from local.bench.cases_turn import _merged, _overlap, _without

    assert _merged([(5, 7), (0, 3), (2, 4)]) == [(0, 4), (5, 7)]
    assert _overlap(a, b) == both
    assert _without(a, b) == a_only
