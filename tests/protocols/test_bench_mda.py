"""`labkit bench mda --quick` runs end to end (as the CLI) and reports each figure beside its
baseline; figures are reported, never asserted."""

from __future__ import annotations

import pytest

from labkit.testing._bench import run_bench_cli


@pytest.mark.slow
def test_bench_mda_quick_reports_all_figures(tmp_path):
    results, table = run_bench_cli("mda", tmp_path)
    assert set(results) == {
        "mda: per-event overhead, no writer",
        "mda: per-event overhead, OME-Zarr writer",
        "mda: burst time plan (100 frames), camera at 200 Hz",
    }
    for r in results.values():
        assert r["value"] > 0 and r["baseline_value"] > 0 and r["ratio"] is not None
    assert "pymmcore-plus run_mda (UniMMCore)" in table
    assert (
        "pymmcore-plus sequenced"
        in results["mda: burst time plan (100 frames), camera at 200 Hz"]["note"]
    )
