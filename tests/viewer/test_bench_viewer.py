"""`labkit bench viewer --quick` runs end to end and reports every figure beside its baseline
(figures are reported, never asserted: benchmarks are not tests). It runs as the CLI in a child
process: its own Playwright cannot share this process with the session's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.browser
def test_bench_viewer_quick_reports_all_figures(tmp_path):
    out = tmp_path / "viewer.json"
    run = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "bench", "viewer", "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(out.read_text())}
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
    assert "viewer page slider → repaint p50" in run.stdout  # the table
