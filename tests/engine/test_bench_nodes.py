"""`labkit bench nodes --quick` runs end to end and reports every figure beside its baseline
(figures are reported, never asserted: benchmarks are not tests). It runs as the CLI in a child
process: its own Playwright cannot share this process with the session's."""

from __future__ import annotations

import pytest

from labkit.bench._nodes import ENGINE_SIZE, PAGE_SIZE
from labkit.testing._bench import run_bench_cli

ENGINE, PAGE = ENGINE_SIZE[True], PAGE_SIZE[True]  # --quick's frame sizes


@pytest.mark.slow
@pytest.mark.browser
def test_bench_nodes_quick_reports_all_figures(tmp_path):
    results, table = run_bench_cli("nodes", tmp_path)
    names = set()
    for label in ("engine threads", "worker processes"):
        names |= {
            f"nodes: camera fps at {ENGINE}² with 3 nodes in {label}",
            f"nodes: roi_stats node per {ENGINE}² frame ({label})",
            f"nodes: frame_stats node per {ENGINE}² frame ({label})",
        }
    names |= {f"nodes: two {PAGE}² cameras at 100 fps, live view {i} painted fps" for i in (1, 2)}
    assert set(results) == names
    for r in results.values():
        assert r["value"] > 0 and r["baseline_value"] > 0 and r["ratio"] is not None
    for label in ("engine threads", "worker processes"):  # the nodes saw the camera's frames
        assert (
            "nodes lost"
            in results[f"nodes: camera fps at {ENGINE}² with 3 nodes in {label}"]["note"]
        )
    assert f"nodes: two {PAGE}² cameras" in table
