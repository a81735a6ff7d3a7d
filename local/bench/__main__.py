"""`make bench [ONLY=<group substring>]`: every case from local/bench/cases_*.py, one run, one table."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

from local.bench.load import LoadGroup, load_table, measure_groups
from local.bench.runner import Bench, Case, table
from local.template import ROOT


def discover() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        cases.extend(importlib.import_module(f"local.bench.{path.stem}").CASES)
    return cases


def discover_load() -> list[LoadGroup]:
    """Rows measured over HTTP against a running stack (LOAD_GROUPS of a cases module)."""
    groups: list[LoadGroup] = []
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        groups.extend(getattr(importlib.import_module(f"local.bench.{path.stem}"), "LOAD_GROUPS", []))
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--only", default="", help="run only groups whose name contains this")
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per case (cold start median)")
    parser.add_argument(
        "--json", type=Path, default=ROOT / ".local" / "bench.json", help="where to save raw results"
    )
    args = parser.parse_args(argv)
    cases = [c for c in discover() if args.only in c.group]
    load_groups = [g for g in discover_load() if args.only in g.group]
    if not cases and not load_groups:
        print(f"no benchmark group matches {args.only!r}", file=sys.stderr)
        return 2
    results = []
    if cases:
        bench = Bench(repeat=args.repeat)
        groups: dict[str, list[Case]] = {}
        for case in cases:
            groups.setdefault(case.group, []).append(case)
        try:
            for group in groups.values():
                results.extend(bench.measure_group(group))
        finally:
            bench.close()
        print(table(results))
    rows = []
    if load_groups:
        print(f"… over HTTP: {', '.join(g.group for g in load_groups)}", file=sys.stderr)
        rows = measure_groups(load_groups)
        print(load_table(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    raw = [{**asdict(r), "case": asdict(r.case)} for r in results] + [asdict(row) for row in rows]
    args.json.write_text(json.dumps(raw, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
