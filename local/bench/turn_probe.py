"""One process running warm chat turns on ChatKitFunction's app, for the memory group.

Run as ``python -m local.bench.turn_probe <spec.json>`` (spec: the stack's state and the number of
turns), in the environment of the bench (OPENAI_BASE_URL at its stand-in, which answers each
request by itself). The bench starts it in a cgroup with Lambda's CPU share for a memory size,
so the app's work runs at that share while moto and the stand-in, in other processes, do not.
Prints per turn the time not spent waiting for DynamoDB (the app's own work and the SDK's on its
model calls), and the process's peak memory.
"""

from __future__ import annotations

import json
import sys

from local.bench.cases_turn import WARM_UP, _InProcess
from local.bench.probe import peak_rss_mb


def main() -> None:
    with open(sys.argv[1]) as file:
        spec = json.load(file)
    sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - the app's log and metric lines; stays open for the process's life
    local = _InProcess(spec["state"], model=None)
    local.seed_tasks(local.USER)
    thread_id = local.create("What is on my list?")
    busy = []
    for index in range(WARM_UP + spec["turns"]):
        turn = local.turn(thread_id, "And now?")
        if index >= WARM_UP:
            busy.append(turn.took_ms - turn.waited_ms)
    local.close()
    sys.__stdout__.write(json.dumps({"busy_ms": busy, "rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
