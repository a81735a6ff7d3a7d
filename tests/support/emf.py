"""Reading the metrics a run printed: CloudWatch Embedded Metric Format lines in a log."""

from __future__ import annotations

import json
from typing import Any


def emf_lines(log: str) -> list[dict[str, Any]]:
    """The Embedded Metric Format lines in ``log`` (what CloudWatch turns into metrics)."""
    lines = []
    for line in log.splitlines():
        start = line.find('{"_aws"')
        if start >= 0:
            lines.append(json.loads(line[start:]))
    return lines


def metric(lines: list[dict[str, Any]], name: str, **dimensions: str) -> list[dict[str, Any]]:
    """The lines that carry ``name`` with exactly these dimensions (besides ``service``)."""
    found = []
    for line in lines:
        [directive] = line["_aws"]["CloudWatchMetrics"]
        names = [m["Name"] for m in directive["Metrics"]]
        if name in names and all(line.get(k) == v for k, v in dimensions.items()):
            assert directive["Namespace"] == "ChatKitBackend" and line["service"] == "chatkit-backend"
            assert sorted(directive["Dimensions"][0]) == sorted([*dimensions, "service"]) or not dimensions
            found.append(line)
    return found
