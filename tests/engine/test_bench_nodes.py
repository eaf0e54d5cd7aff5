"""`labkit bench nodes --quick` runs end to end and reports every figure beside its baseline
(figures are reported, never asserted: benchmarks are not tests). It runs as the CLI in a child
process: its own Playwright cannot share this process with the session's."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.browser
def test_bench_nodes_quick_reports_all_figures(tmp_path):
    out = tmp_path / "nodes.json"
    run = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "bench", "nodes", "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    results = {r["name"]: r for r in json.loads(out.read_text())}
    names = set()
    for label in ("engine threads", "worker processes"):
        names |= {
            f"nodes: camera fps at 2048² with 3 nodes in {label}",
            f"nodes: roi_stats node per 2048² frame ({label})",
            f"nodes: frame_stats node per 2048² frame ({label})",
        }
    names |= {f"nodes: two 1024² cameras at 100 fps, live view {i} painted fps" for i in (1, 2)}
    assert set(results) == names
    for r in results.values():
        assert r["value"] > 0 and r["baseline_value"] > 0 and r["ratio"] is not None
    for label in ("engine threads", "worker processes"):  # the nodes saw the camera's frames
        assert (
            "nodes lost" in results[f"nodes: camera fps at 2048² with 3 nodes in {label}"]["note"]
        )
    assert "nodes: two 1024² cameras" in run.stdout  # the table
