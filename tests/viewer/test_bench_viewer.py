"""`labkit bench viewer --quick` runs end to end and reports every figure beside its baseline
(figures are reported, never asserted: benchmarks are not tests)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.browser
def test_bench_viewer_quick_reports_all_figures():
    from labkit.bench import _viewer

    results = {r.name: r for r in _viewer.run(quick=True)}
    assert set(results) == {
        "viewer page slider → repaint p50", "viewer page slider → repaint p95",
        "viewer page slider → repaint p50 vs the same bytes raw", "viewer page bytes per slice",
        "viewer jupyterlab slider → repaint p50", "viewer jupyterlab slider → repaint p95",
    }  # fmt: skip
    for r in results.values():
        assert r.value > 0 and r.baseline_value and r.baseline_value > 0 and r.ratio is not None
    # the browser got a viewport's worth of texels, not the 2048² slice
    assert (
        results["viewer page bytes per slice"].value
        < results["viewer page bytes per slice"].baseline_value / 4
    )
