"""`labkit bench watch --quick` runs end to end and reports every figure beside its baseline."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_bench_watch_quick_reports_all_figures(monkeypatch, tmp_path):
    monkeypatch.delenv("LABKIT_BENCH_ERLAB_PYTHON", raising=False)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(tmp_path))
    from labkit.bench import _watch

    results = {r.name: r for r in _watch.run(quick=True)}
    assert set(results) == {
        "push 1 KB (replace_data p50)", "round trip 1 KB p50", "watch push 1 KB (change → pushed, p50)",
        "push 1 MB (replace_data p50)", "watch push 1 MB (change → pushed, p50)",
        "push 1 MB by socket (shared memory off, p50)",
        "push 64 MB (replace_data p50)", "watch push 64 MB (change → pushed, p50)",
        "push 64 MB by socket (shared memory off, p50)",
        "unchanged check 64 MB (maybe_push p50)",
        "push 1 MB over TCP+CURVE (replace_data p50)", "push 64 MB over TCP+CURVE (replace_data p50)",
    }  # fmt: skip
    for r in results.values():
        assert r.value > 0 and r.baseline_value and r.baseline_value > 0 and r.ratio is not None
