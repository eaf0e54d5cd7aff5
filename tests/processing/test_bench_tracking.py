"""`labkit bench tracking --quick` runs as the CLI and reports every figure beside its baseline
(figures are reported, never asserted: benchmarks are not tests)."""

from __future__ import annotations

import importlib.util

import pytest

from labkit.testing._bench import run_bench_cli


@pytest.mark.slow
def test_bench_tracking_quick_reports_all_figures(tmp_path):
    results, table = run_bench_cli("tracking", tmp_path)
    peers = [""]
    if importlib.util.find_spec("magtrack") is not None:  # the [bench] extra
        peers.append(", beside magtrack")
    names = set()
    for label in ("1 bead", "10 beads", "100 beads"):
        names |= {f"tracking: {label} at 2048², µs per bead per frame{peer}" for peer in peers}
        names.add(f"tracking: {label} at 2048², frames per second")
    for peer in peers:
        names |= {f"tracking: x/y RMS error{peer}", f"tracking: z RMS error, 50 nm table{peer}"}
    names.add("tracking: sim tweezers camera 2048² with 100 ring beads")
    assert set(results) == names
    for r in results.values():
        assert r["value"] > 0 and r["baseline_value"] > 0 and r["ratio"] is not None
        assert "load" in r["note"] or "frames ×" in r["note"]
    assert "tracking: 100 beads at 2048²" in table
