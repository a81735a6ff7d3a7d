"""The product's metrics, as CloudWatch Embedded Metric Format lines.

Each ``emit`` prints one EMF JSON line on stdout at once; CloudWatch Logs turns it into metrics
in the POWERTOOLS_METRICS_NAMESPACE namespace (the template's ChatKitBackend), with the
``service`` dimension (POWERTOOLS_SERVICE_NAME, when set) and the dimensions given. Locally the
line shows in `make dev`'s output. Nothing is buffered across requests: the ChatKit function is a
long-lived web app, not a decorated handler, and a line written at once is never lost with a
frozen sandbox.

The line is the one Powertools' metrics write (AWS's EMF specification: ``_aws`` with the
timestamp and one directive, then the dimensions' and the metrics' values), written here: building
it through Powertools cost ~0.1 ms a line and, for McpFunction's first tool call, Powertools'
import. Powertools' switches apply as they do there: POWERTOOLS_METRICS_DISABLED, or
POWERTOOLS_DEV without it, print nothing; a dimension with an empty value is left out.

The metrics (the dashboard and the alarms in template.yaml read them by these names):

| metric | unit | dimensions |
| --- | --- | --- |
| ToolCalls | Count | tool, outcome (ok, error, failed), via (chat, mcp) |
| ChatTurns | Count | |
| TokensIn, TokensOut | Count | |
| LimitRefusals | Count | limit (messages_per_minute, daily_tokens, mcp_calls_per_minute) |
| OpenAIErrors | Count | |
| WidgetActions | Count | action |
| SessionsCreated | Count | |
| Feedback | Count | kind (positive, negative) |
| Erasures | Count | complete (true, false) |
"""

from __future__ import annotations

import json
import os
import sys
import time

from chatkit_backend.settings import env_str

# The template's POWERTOOLS_METRICS_NAMESPACE, read once per container as Powertools reads its
# own settings; the same name where it is not set.
NAMESPACE = env_str("POWERTOOLS_METRICS_NAMESPACE", "ChatKitBackend")
_TRUE = {"1", "y", "yes", "t", "true", "on"}


def emit(metrics: dict[str, float], **dimensions: str) -> None:
    """One EMF line with ``metrics`` (counts), under ``dimensions``; a metric never fails a request."""
    try:
        if _disabled():
            return
        values = {name: str(value) for name, value in dimensions.items() if str(value).strip()}
        # Read for each line, as Powertools' metrics read it; without it, no service dimension.
        service = os.environ.get("POWERTOOLS_SERVICE_NAME")
        if service:
            values["service"] = service
        directive = {
            "Namespace": NAMESPACE,
            "Dimensions": [list(values)],
            "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
        }
        line = {
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]},
            **values,
            **{name: [float(value)] for name, value in metrics.items()},
        }
        # One write of the line and its newline: on a pipe shared with other writers, as make
        # dev's output is, a line must never be split.
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a metric must never fail the request it counts
        from chatkit_backend.observability.logs import logger

        logger.warning("a metric could not be written", extra={"metrics": sorted(metrics)}, exc_info=True)


def count(metric: str, **dimensions: str) -> None:
    emit({metric: 1}, **dimensions)


def _disabled() -> bool:
    """Powertools' rule: disabled by POWERTOOLS_METRICS_DISABLED, or by POWERTOOLS_DEV unless that is set."""
    disabled = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    if disabled is not None:
        return disabled.strip().lower() in _TRUE
    return os.environ.get("POWERTOOLS_DEV", "").strip().lower() in _TRUE
