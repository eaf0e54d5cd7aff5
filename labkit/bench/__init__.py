"""``labkit bench``: performance figures, each beside a baseline measured in the same run.

Suites are modules ``labkit.bench._<suite>`` exposing ``run(quick: bool) -> list[BenchResult]``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from labkit.bench._report import BenchResult, format_table, to_json

__all__ = ["BenchResult", "SUITES", "format_table", "main", "run_suites", "to_json"]

SUITES: dict[str, str] = {
    "ring": "labkit.bench._ring",
    "rpc": "labkit.bench._rpc",
    "sim": "labkit.bench._sim",
    "live": "labkit.bench._live",
    "spool": "labkit.bench._spool",
    "watch": "labkit.bench._watch",
    "viewer": "labkit.bench._viewer",
    "nodes": "labkit.bench._nodes",
    "tracking": "labkit.bench._tracking",
    "mda": "labkit.bench._mda",
    "analysis": "labkit.bench._analysis",
    "remote": "labkit.bench._remote",
}


#: packages only the benchmarks use (the ``bench`` extra; ``pip install -e ".[dev]"`` includes it)
BENCH_EXTRA = ("tensorstore", "playwright")


def run_suites(names: list[str], quick: bool = False) -> list[BenchResult]:
    """Run the named suites in order and return all their results."""
    results: list[BenchResult] = []
    for name in names:
        if name not in SUITES:
            raise ValueError(f"unknown benchmark suite {name!r}; choose from {', '.join(SUITES)}")
        module = importlib.import_module(SUITES[name])
        t0 = time.perf_counter()
        try:
            results.extend(module.run(quick=quick))
        except ModuleNotFoundError as exc:
            if exc.name not in BENCH_EXTRA:
                raise
            raise ModuleNotFoundError(
                f"labkit bench {name} needs {exc.name}: pip install 'labkit[bench]'", name=exc.name
            ) from exc
        print(f"[bench] {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labkit bench", description=__doc__)
    parser.add_argument(
        "suites", nargs="*", help=f"suites to run (default: all): {', '.join(SUITES)}"
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the results as JSON to PATH ('-' for stdout)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions, and smaller frames where a suite says so (for smoke tests)",
    )
    args = parser.parse_args(argv)
    names = args.suites or list(SUITES)
    try:
        results = run_suites(names, quick=args.quick)
    except (ValueError, ModuleNotFoundError) as exc:
        parser.error(str(exc))
    print(format_table(results))
    if args.json == "-":
        print(to_json(results))
    elif args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(to_json(results))
    return 0
