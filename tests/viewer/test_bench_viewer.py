"""`labkit bench viewer --quick` runs end to end and reports every figure beside its baseline
(figures are reported, never asserted: benchmarks are not tests). It runs as the CLI in a child
process: its own Playwright cannot share this process with the session's."""

from __future__ import annotations

import pytest

from labkit.testing._bench import run_bench_cli


@pytest.mark.slow
@pytest.mark.browser
def test_bench_viewer_quick_reports_all_figures(tmp_path):
    results, table = run_bench_cli("viewer", tmp_path)
    assert set(results) == {
        "viewer page slider → repaint p50", "viewer page slider → repaint p95",
        "viewer page slider → repaint p50 vs the same bytes raw", "viewer page bytes per slice",
        "viewer jupyterlab slider → repaint p50", "viewer jupyterlab slider → repaint p95",
    }  # fmt: skip
    for r in results.values():
        assert r["value"] > 0 and r["baseline_value"] > 0 and r["ratio"] is not None
    # the browser got a viewport's worth of texels, not the 2048² slice
    sent = results["viewer page bytes per slice"]
    assert sent["value"] < sent["baseline_value"] / 4
    assert "viewer page slider → repaint p50" in table
