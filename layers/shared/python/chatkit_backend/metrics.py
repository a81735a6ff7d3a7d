"""The product's metrics, as CloudWatch Embedded Metric Format lines (Powertools Metrics).

Each ``emit`` prints one EMF JSON line on stdout at once; CloudWatch Logs turns it into metrics
in the POWERTOOLS_METRICS_NAMESPACE namespace (the template's ChatKitBackend), with the
``service`` dimension and the dimensions given. Locally the line shows in `make dev`'s output.
Nothing is buffered across requests: the ChatKit function is a long-lived web app, not a
decorated handler, and a line written at once is never lost with a frozen sandbox.

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
import sys

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from chatkit_backend.settings import env_str

# The template's POWERTOOLS_METRICS_NAMESPACE, read once per container as Powertools reads its
# own settings; the same name where it is not set.
NAMESPACE = env_str("POWERTOOLS_METRICS_NAMESPACE", "ChatKitBackend")


def emit(metrics: dict[str, float], **dimensions: str) -> None:
    """One EMF line with ``metrics`` (counts), under ``dimensions``; a metric never fails a request."""
    try:
        line = EphemeralMetrics(namespace=NAMESPACE)
        for name, value in dimensions.items():
            line.add_dimension(name=name, value=value)
        for name, value in metrics.items():
            line.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if is_metrics_disabled():
            return
        # One write of the line and its newline (Powertools' flush prints them as two): on a pipe
        # shared with other writers, as make dev's output is, a line must never be split.
        sys.stdout.write(json.dumps(line.serialize_metric_set(), separators=(",", ":")) + "\n")
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a metric must never fail the request it counts
        from chatkit_backend.observability import logger

        logger.warning("a metric could not be written", extra={"metrics": sorted(metrics)}, exc_info=True)


def count(metric: str, **dimensions: str) -> None:
    emit({metric: 1}, **dimensions)
