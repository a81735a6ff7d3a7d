"""GET /health: our HealthFunction next to a bare handler (the floor any Lambda pays)."""

from local.bench.runner import Case

CASES = [
    Case(
        "health GET /health",
        "HealthFunction (ours)",
        "HealthFunction",
        "events/health/ok.json",
        baseline=True,
    ),
    Case(
        "health GET /health",
        "bare json handler (floor)",
        "local/bench/peers/bare_health.py:handler",
        "events/health/ok.json",
        note="no Powertools, no settings: the cost of the shared layer is the gap to this row",
    ),
]
