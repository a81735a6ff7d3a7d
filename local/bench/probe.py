"""One fresh process measuring one handler: import, first call, then N warm calls.

Run by the benchmark runner as ``python -m local.bench.probe <spec.json>``. It imports nothing
of the project before the measured import, so the figures are the handler's own: what a Lambda
cold start pays after the runtime is up (interpreter start-up is the same for every row and is
left out).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import importlib.util
import json
import os
import sys
import types

HEAVY = (
    "boto3",
    "botocore",
    "pydantic",
    "fastapi",
    "starlette",
    "openai",
    "mcp",
    "jwt",
    "cryptography",
    "aws_lambda_powertools",
    "mangum",
    "agents",
    "httpx",
)


class Context:
    remaining_ms = 10_000
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 512
    aws_request_id = "bench"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM starts anew at exec, unlike ru_maxrss, which Linux
    carries over from the parent that forked us."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load(path: str, function: str, paths: list[str]) -> types.FunctionType:
    for directory in reversed(paths):
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location("bench_handler", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_handler"] = module
    spec.loader.exec_module(module)
    return getattr(module, function)


def main() -> None:
    with open(sys.argv[1]) as file:
        spec = json.load(file)
    os.environ.clear()
    os.environ.update(spec["env"])
    events = spec["events"]
    Context.remaining_ms = spec.get("remaining_ms", Context.remaining_ms)
    # Logs of the handler would cost the same for every row and drown the report: keep them.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open for the probe process's life
    before_import = time.perf_counter()
    handler = load(spec["path"], spec["function"], spec["sys_path"])
    imported = time.perf_counter()
    first = handler(events[0], Context())
    first_done = time.perf_counter()
    rss_cold = peak_rss_mb()
    warm_started = time.perf_counter()
    for index in range(spec["iterations"]):
        handler(events[index % len(events)], Context())
    warm_done = time.perf_counter()
    loaded = {name.split(".")[0] for name in sys.modules}
    report = {
        "import_ms": (imported - before_import) * 1000,
        "first_ms": (first_done - imported) * 1000,
        "warm_us": (warm_done - warm_started) * 1e6 / max(1, spec["iterations"]),
        "rss_cold_mb": rss_cold,
        "rss_mb": peak_rss_mb(),
        "heavy_modules": sorted(name for name in HEAVY if name in loaded),
        "first_status": first.get("statusCode") if isinstance(first, dict) else None,
        # A handler that counts its DynamoDB requests (local/bench/peers/chatkit_counted.py) says so.
        "dynamodb_requests": getattr(sys.modules["bench_handler"], "FIRST_CALL_DYNAMODB_REQUESTS", None),
        "probe_overhead_ms": (before_import - STARTED) * 1000,
    }
    sys.__stdout__.write(json.dumps(report))


if __name__ == "__main__":
    main()
