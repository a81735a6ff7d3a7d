"""The benchmark harness: cases, fresh-process probes, and the side-by-side table.

A ``Case`` is one row. Rows in the same ``group`` run on the same event and are compared with
the group's ``baseline`` row (ours) in the same run, so a shared, noisy machine slows all of
them alike and the ratios stay meaningful where absolute times do not.

- cold: fresh process, import of the handler module + its first invocation (median of
  ``repeat`` processes; interpreter start-up excluded, it is the same for every row).
- warm: mean per call over ``iterations`` calls after the first, in the same process.
- rss: peak resident memory of the probe process after the warm calls.
- package: for a template function, what it ships unzipped with its layers: the packages its
  requirements.txt files pin (as installed here, at the same versions; Lambda's arm64 wheels differ
  by a few percent) and our code. `python -m local.build.build_check --sizes` measures the built artifacts.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

from local.bench.cpu_share import cpu_share, share_of
from local.bench.prices import billed_ms, lambda_call_usd
from local.build.lock import LOCK_NAME, artifacts, read_pins
from local.emulator.runtime import function_environment
from local.emulator.stack import LocalAws
from local.template import ROOT, Template


@dataclass(frozen=True)
class Case:
    group: str  # rows compared together, e.g. "mcp tools/list"
    name: str  # row label, e.g. "McpFunction (ours)"
    handler: str  # a template LogicalId, or "path/to/file.py:function" for a peer
    event: str | tuple[str, ...]  # event file(s) under the repo; several are cycled in the warm loop
    env: dict[str, str] = field(default_factory=dict)  # extra environment (overrides the template's)
    baseline: bool = False  # the row the others are compared to
    iterations: int = 200
    sys_path: tuple[str, ...] = ()  # extra import paths for a peer
    note: str = ""
    # Called with the Bench before the case runs, to put what it needs into the bench's AWS
    # (a secret value, items); not measured.
    prepare: Callable[[Bench], None] | None = None
    # Work one call does, e.g. (500, "items"): the table adds that row's rate per second.
    work: tuple[int, str] | None = None
    # A peer that runs a template function's code gets that function's environment (tables,
    # secret ARNs as the bench created them), not the first function's.
    function_env: str = ""
    # The Lambda memory size the probe runs as: its process gets the CPU share Lambda gives that
    # memory (local/bench/cpu_share.py) and the table adds the cost per million calls. 0: all of
    # this machine.
    memory_mb: int = 0


@dataclass
class Result:
    case: Case
    cold_ms: float
    import_ms: float
    first_ms: float
    warm_us: float
    rss_mb: float
    heavy_modules: list[str]
    first_status: Any
    # DynamoDB requests of the first call, by operation, when the handler counts them.
    dynamodb_requests: dict[str, int] | None = None
    # What the function ships unzipped with its layers (template functions only).
    package_mb: float | None = None


def package_bytes(template: Template, logical_id: str) -> int:
    """The unzipped size of a function with its layers: the files of every package their
    requirements.txt pin (as installed in this environment) and of our code."""
    found = artifacts(template)
    folders = [found[logical_id].directory, *(found[layer].directory for layer in found[logical_id].layers)]
    packages = {
        name for folder in folders if (folder / LOCK_NAME).exists() for name in read_pins(folder / LOCK_NAME)
    }
    total = sum(
        file.size or 0
        for name in packages
        for file in (distribution(name).files or ())
        if file.size is not None
    )
    code = [
        path
        for folder in folders
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    return total + sum(path.stat().st_size for path in code)


class Bench:
    """Runs cases against one ephemeral AWS (moto) that holds the template's resources."""

    def __init__(self, repeat: int = 5) -> None:
        self.repeat = repeat
        self.template = Template.from_environment({})
        self.aws = LocalAws.start(self.template.region)
        from local.emulator.resources import create_resources

        create_resources(self.template, self.aws.client)
        self.functions = self.template.functions()

    def close(self) -> None:
        self.aws.stop()

    def spec(self, case: Case) -> dict[str, Any]:
        events = [
            json.loads((ROOT / e).read_text())
            for e in ((case.event,) if isinstance(case.event, str) else case.event)
        ]
        if case.handler in self.functions:
            function = self.functions[case.handler]
            module, name = function.handler.rsplit(".", 1)
            path = str(function.code_dir / f"{module}.py")
            sys_path = [str(function.code_dir), *map(str, function.layer_dirs)]
            env = function_environment(function, self.aws.environment(), self.aws.region)
            remaining_ms = function.timeout * 1000
        else:
            file, name = case.handler.rsplit(":", 1)
            path = str(ROOT / file)
            sys_path = [str(Path(path).parent), *(str(ROOT / p) for p in case.sys_path)]
            function = (
                self.functions[case.function_env]
                if case.function_env
                else next(iter(self.functions.values()))
            )
            env = {**function_environment(function, self.aws.environment(), self.aws.region)}
            remaining_ms = 10_000
        return {
            "path": path,
            "function": name,
            "sys_path": sys_path,
            "env": {**env, **case.env},
            "events": events,
            "iterations": case.iterations,
            # What context.get_remaining_time_in_millis() answers: the function's own Timeout.
            "remaining_ms": remaining_ms,
        }

    def measure_group(self, cases: list[Case]) -> list[Result]:
        """Each case's ``repeat`` probes, taken in turns (one of each, then again): a busy
        moment of the shared machine falls on every row of the group alike."""
        paths = []
        for case in cases:
            if case.prepare is not None:
                case.prepare(self)
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
                json.dump(self.spec(case), file)
            paths.append(file.name)
        runs: list[list[dict[str, Any]]] = [[] for _ in cases]
        for _ in range(self.repeat):
            for index, case in enumerate(cases):
                print(f"… {case.group}: {case.name}", file=sys.stderr)
                runs[index].append(
                    json.loads(run_probe("local.bench.probe", paths[index], case.memory_mb, case.name))
                )
        for path in paths:
            Path(path).unlink()
        return [_result(case, case_runs, self.package_mb(case)) for case, case_runs in zip(cases, runs)]

    def package_mb(self, case: Case) -> float | None:
        """What the case's function ships (its packages, its layers' and our code), in MB."""
        if case.handler not in self.functions:
            return None
        return package_bytes(self.template, case.handler) / 1e6


def _result(case: Case, runs: list[dict[str, Any]], package_mb: float | None) -> Result:
    median = lambda key: statistics.median(r[key] for r in runs)
    return Result(
        case=case,
        cold_ms=statistics.median(r["import_ms"] + r["first_ms"] for r in runs),
        import_ms=median("import_ms"),
        first_ms=median("first_ms"),
        warm_us=median("warm_us"),
        rss_mb=median("rss_mb"),
        heavy_modules=runs[0]["heavy_modules"],
        first_status=runs[0]["first_status"],
        dynamodb_requests=runs[0].get("dynamodb_requests"),
        package_mb=package_mb,
    )


def run_probe(module: str, spec_path: str, memory_mb: int, name: str, timeout: int = 300) -> str:
    """``python -m <module> <spec_path>`` in a fresh process, what it prints; with ``memory_mb``
    it runs with the CPU share Lambda gives that memory (local/bench/cpu_share.py)."""
    with cpu_share(share_of(memory_mb)) if memory_mb else nullcontext() as join:
        done = subprocess.run(
            [sys.executable, "-m", module, spec_path],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=join,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{name}: probe failed:\n{done.stderr[-3000:]}")
    return done.stdout


def table(results: list[Result]) -> str:
    """The report: one block per group, each row with its ratio to the group's baseline."""
    header = f"{'case':44} {'cold ms':>9} {'import':>8} {'1st call':>9} {'warm µs':>10} {'RSS MB':>7} {'pkg MB':>7} {'cold ×':>7} {'warm ×':>7}  heavy imports"
    lines = []
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(result.case.group, []).append(result)
    for group, rows in groups.items():
        baseline = next((r for r in rows if r.case.baseline), rows[0])
        lines += ["", f"## {group}", header, "-" * len(header)]
        for r in rows:
            cold_ratio = r.cold_ms / baseline.cold_ms if baseline.cold_ms else float("nan")
            warm_ratio = r.warm_us / baseline.warm_us if baseline.warm_us else float("nan")
            package = "-" if r.package_mb is None else f"{r.package_mb:.1f}"
            lines.append(
                f"{r.case.name[:44]:44} {r.cold_ms:9.1f} {r.import_ms:8.1f} {r.first_ms:9.2f} {r.warm_us:10.1f} "
                f"{r.rss_mb:7.1f} {package:>7} {cold_ratio:7.2f} {warm_ratio:7.2f}  {','.join(r.heavy_modules) or '-'}"
            )
            if r.case.note:
                lines.append(f"    {r.case.note}")
            if r.case.work:
                amount, unit = r.case.work
                lines.append(
                    f"    {amount / (r.warm_us / 1e6):,.0f} {unit}/s warm ({amount} {unit} a call), "
                    f"{amount / (r.first_ms / 1e3):,.0f} {unit}/s on the first call"
                )
            if r.case.memory_mb:
                lines.append(f"    {lambda_cost(r.case.memory_mb, r.warm_us / 1000)}")
            if r.dynamodb_requests is not None:
                counts = ", ".join(f"{name} ×{count}" for name, count in sorted(r.dynamodb_requests.items()))
                lines.append(
                    f"    DynamoDB requests per call: {sum(r.dynamodb_requests.values())} ({counts})"
                )
    lines += [
        "",
        "cold = fresh process: import + first call (median); warm = mean per call after the first;",
        "pkg = a template function's packages and code, with its layers, unzipped;",
        "× = row / the group's first-listed ours row (below 1: faster than ours, above 1: slower).",
    ]
    return "\n".join(lines)


def lambda_cost(memory_mb: int, duration_ms: float) -> str:
    """What a call of ``duration_ms`` costs at ``memory_mb``: Lambda bills whole milliseconds."""
    billed = billed_ms(duration_ms)
    return (
        f"{memory_mb} MB x {billed} ms billed = {billed * memory_mb / 1024:.1f} GB-ms: "
        f"${1e6 * lambda_call_usd(memory_mb, duration_ms):.2f} per million calls"
    )
