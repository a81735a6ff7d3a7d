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
        Row("turn", "round trips", 3, 3, unit="round trips"),
        Row("turn", "turn cost", 0.0035, 0.0035, unit="$/1k turns"),
    ]
    table = load_table(rows).splitlines()
    assert [line.split()[2:] for line in table if line.startswith(("round trips", "turn cost"))] == [
        ["3", "round", "trips"],
        ["0.00350", "$/1k", "turns"],
    ]


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


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"user_id": {"S": "alice"}}, 7 + 5),
        ({"title": {"S": "Café"}}, 5 + 5),  # é is two bytes in UTF-8
        ({"n": {"N": "123.45"}}, 1 + 3 + 1),  # five significant digits: three bytes, plus one
        ({"n": {"N": "1000"}}, 1 + 1 + 1),  # trailing zeroes trimmed
        ({"flag": {"BOOL": True}, "none": {"NULL": True}}, 4 + 1 + 4 + 1),
        ({"m": {"M": {"a": {"S": "xy"}, "b": {"N": "7"}}}}, 1 + 3 + (1 + 1 + 2) + (1 + 1 + 2)),
        ({"l": {"L": [{"S": "abc"}, {"L": []}]}}, 1 + 3 + (1 + 3) + (1 + 3)),
    ],
)
def test_item_sizes_follow_dynamodbs_rules(item: dict, size: int) -> None:
    from local.bench.dynamodb_units import item_size

    assert item_size(item) == size


def test_request_units_round_up_per_request_as_dynamodb_charges() -> None:
    from local.bench.dynamodb_units import index_writes, read_units, write_units

    assert [read_units([4096], True), read_units([4097], True), read_units([100], False)] == [1, 2, 0.5]
    assert read_units([2000, 2000, 2000], True) == 2  # a Query: the items it read, rounded up once
    assert [write_units(1024), write_units(1025), write_units(10, transactional=True)] == [1, 2, 2]
    old = {"user_id": {"S": "u"}, "order_key": {"S": "a"}}
    new = {"user_id": {"S": "u"}, "order_key": {"S": "b"}}
    assert index_writes(None, new, "order_key") == [18]  # a new entry
    assert index_writes(old, new, "order_key") == [18, 18]  # the old entry removed, the new one put
    assert index_writes(old, {**old, "title": {"S": "t"}}, "order_key") == [24]  # the entry rewritten
    assert index_writes(None, {"user_id": {"S": "u"}}, "order_key") == []  # not in the index
