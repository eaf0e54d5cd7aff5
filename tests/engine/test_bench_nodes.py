"""`labkit bench nodes --quick` runs end to end and reports every figure beside its baseline
(figures are reported, never asserted: benchmarks are not tests). It runs as the CLI in a child
process: its own Playwright cannot share this process with the session's."""

from __future__ import annotations

import pytest

from labkit.testing._bench import run_bench_cli


@pytest.mark.slow
@pytest.mark.browser
def test_bench_nodes_quick_reports_all_figures(tmp_path):
    results, table = run_bench_cli("nodes", tmp_path)
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
    assert "nodes: two 1024² cameras" in table
