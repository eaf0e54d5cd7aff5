"""Benchmark results: one figure next to the baseline measured beside it in the same run."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class BenchResult:
    """One measured figure.

    ``ratio`` is ``value / baseline_value`` when higher is better and
    ``baseline_value / value`` when lower is better, so a ratio above 1 always
    means labkit did better than the baseline. ``goal`` is the ratio (or the absolute
    figure, see ``goal_kind``) the design asks for; it is reported, never asserted.
    """

    name: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    higher_is_better: bool = True
    goal: float | None = None
    goal_kind: str = "ratio"  # "ratio" or "value"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value is None or self.baseline_value == 0 or self.value == 0:
            return None
        if self.higher_is_better:
            return self.value / self.baseline_value
        return self.baseline_value / self.value

    @property
    def goal_met(self) -> bool | None:
        if self.goal is None:
            return None
        if self.goal_kind == "ratio":
            return None if self.ratio is None else self.ratio >= self.goal
        return self.value >= self.goal if self.higher_is_better else self.value <= self.goal

    def to_json(self) -> dict:
        out = asdict(self)
        out["ratio"] = self.ratio
        out["goal_met"] = self.goal_met
        return out


_T0 = time.monotonic()


def progress(message: str) -> None:
    """One ``[bench]`` line on stderr with the seconds since the suites started (a run cut off
    by a timeout shows how far it got)."""
    print(f"[bench {time.monotonic() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 1000 or abs(x) < 0.01:
        return f"{x:.3g}"
    return f"{x:.2f}"


def format_table(results: Iterable[BenchResult]) -> str:
    rows = [("name", "value", "unit", "baseline", "baseline value", "ratio", "goal", "met")]
    for r in results:
        goal = (
            "-"
            if r.goal is None
            else (
                (f"≥{r.goal:g}×")
                if r.goal_kind == "ratio"
                else f"{'≥' if r.higher_is_better else '≤'}{r.goal:g}"
            )
        )
        met = {None: "-", True: "yes", False: "NO"}[r.goal_met]
        rows.append(
            (
                r.name,
                _fmt(r.value),
                r.unit,
                r.baseline or "-",
                _fmt(r.baseline_value),
                _fmt(r.ratio),
                goal,
                met,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(results: Iterable[BenchResult]) -> str:
    return json.dumps([r.to_json() for r in results], indent=2)
