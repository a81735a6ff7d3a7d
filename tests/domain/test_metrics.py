"""The metric lines are the ones Powertools' metrics would print, written without Powertools.

Each case is printed by ``chatkit_backend.observability.metrics.emit`` and by Powertools' own EMF provider (what
the module used before), and the two JSON lines must be equal but for the timestamp; the switches
that silence metrics must agree with Powertools' rule.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Any

import pytest
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from chatkit_backend.observability import metrics


def powertools_line(values: dict[str, float], dimensions: dict[str, str]) -> dict[str, Any]:
    line = EphemeralMetrics(namespace=metrics.NAMESPACE)
    for name, value in dimensions.items():
        line.add_dimension(name=name, value=value)
    for name, value in values.items():
        line.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return line.serialize_metric_set()


@pytest.mark.parametrize(
    ("values", "dimensions"),
    [
        ({"ChatTurns": 1}, {}),
        ({"TokensIn": 1200, "TokensOut": 35}, {}),
        ({"ToolCalls": 1}, {"tool": "list_tasks", "outcome": "ok", "via": "mcp"}),
        ({"WidgetActions": 1}, {"action": "task.complete"}),
        ({"WidgetActions": 1}, {"action": ""}),  # an empty value: the dimension is left out
        ({"Erasures": 1}, {"complete": "true"}),
        ({"LimitRefusals": 2.5}, {"limit": "daily_tokens"}),
    ],
)
@pytest.mark.parametrize("service", ["chatkit-backend", None])
def test_a_metric_line_is_the_one_powertools_writes(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    values: dict[str, float],
    dimensions: dict[str, str],
    service: str | None,
) -> None:
    if service is None:
        monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    else:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", service)
    metrics.emit(values, **dimensions)
    [printed] = capsys.readouterr().out.splitlines()
    ours = json.loads(printed)
    # Powertools warns about a dimension it leaves out.
    with pytest.warns(UserWarning) if "" in dimensions.values() else nullcontext():
        theirs = powertools_line(values, dimensions)
    for line in (ours, theirs):
        line["_aws"]["Timestamp"] = 0
    assert ours == theirs
    assert list(ours) == list(theirs)  # the same order of keys, _aws first


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"POWERTOOLS_METRICS_DISABLED": "true"},
        {"POWERTOOLS_METRICS_DISABLED": "false"},
        {"POWERTOOLS_METRICS_DISABLED": "1"},
        {"POWERTOOLS_DEV": "true"},
        {"POWERTOOLS_DEV": "true", "POWERTOOLS_METRICS_DISABLED": "false"},
        {"POWERTOOLS_DEV": "false"},
    ],
)
def test_metrics_are_silenced_as_powertools_silences_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], environment: dict[str, str]
) -> None:
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_DEV"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    metrics.count("ChatTurns")
    assert (capsys.readouterr().out == "") is is_metrics_disabled()
