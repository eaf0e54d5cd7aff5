"""The journal under drops: the reader never writes or syncs it, ranges are exact, even after kill -9."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
from spool_host import slow_zarr_sink
from test_faults import _child

from labkit.buffers import sweep_stale_segments
from labkit.spool import IncompleteSeriesWarning, open_series
from labkit.spool._journal import Journal, journal_path, read_journal
from labkit.testing import wait_until


def _check_exact(records: list[dict]) -> tuple[set[int], set[int]]:
    """Every ring index between the first and last frame listed is either a listed frame or in
    exactly one dropped range; no listed frame is also dropped. Returns (listed, dropped)."""
    listed: list[int] = []
    for r in records:
        if r.get("event") == "block":
            listed += r["index"]
    dropped: list[int] = []
    for r in records:
        if r.get("event") == "dropped":
            a, b = r["ring_index"]
            assert r["count"] == b - a + 1
            dropped += range(a, b + 1)
    listed_set, dropped_set = set(listed), set(dropped)
    assert len(listed_set) == len(listed) and len(dropped_set) == len(dropped), "no duplicates"
    assert not listed_set & dropped_set, "a frame is either on disk or dropped, never both"
    span = set(range(min(listed), max(listed) + 1))
    assert span - listed_set <= dropped_set, "every gap between listed frames is journaled"
    return listed_set, dropped_set


def test_drops_are_journaled_as_ranges_off_the_reader_thread(spool, host, monkeypatch):
    """A disk slower than the camera: frames drop; the reader thread neither writes nor
    fdatasyncs the journal (that stall used to cascade into more drops); the journal lists
    merged drop ranges whose counts add up to frames_dropped, and it stays exact."""
    writes: list[str] = []
    syncs: list[str] = []
    real_many, real_append, real_sync = Journal.append_many, Journal.append, os.fdatasync

    def append_many(self, records, sync=False):
        writes.append(threading.current_thread().name)
        return real_many(self, records, sync)

    def append(self, record, sync=True):
        writes.append(threading.current_thread().name)
        return real_append(self, record, sync)

    def fdatasync(fd):
        syncs.append(threading.current_thread().name)
        return real_sync(fd)

    monkeypatch.setattr(Journal, "append_many", append_many)
    monkeypatch.setattr(Journal, "append", append)
    monkeypatch.setattr(os, "fdatasync", fdatasync)
    spool.register_acquisition_type("slow", slow_zarr_sink(0.15))
    h = spool.start(
        max_frames=300, method="slow", shard_seconds=0.1, queue_shards=2, preflight_mode="skip"
    )
    p = h.wait(timeout=60)
    assert p.frames_written == 300 and p.frames_dropped > 0, "the slow disk must drop frames"
    assert "labkit-spool-reader" not in writes, "the reader wrote the journal"
    assert "labkit-spool-reader" not in syncs, "the reader fdatasynced"
    assert syncs and writes  # the writer/flusher did
    records = read_journal(journal_path(h.path))
    drops = [r for r in records if r.get("event") == "dropped"]
    assert sum(r["count"] for r in drops) == p.frames_dropped
    assert max(r["count"] for r in drops) > 1, "a lapped ring is one range, not a line per frame"
    listed, _ = _check_exact(records)
    assert len(listed) == 300
    da = open_series(h.path)
    assert da.attrs["frames_dropped"] == p.frames_dropped
    assert sorted(listed) == [int(i) for i in _ring_indices(da)]


def _ring_indices(da) -> np.ndarray:
    """SimHost writes the ring index (mod 65536) into pixel [0, 0]."""
    return da.values[:, 0, 0].astype(int)


@pytest.mark.slow
def test_journal_is_exact_after_kill9_with_drops(tmp_path):
    proc = _child(tmp_path, "crash-drops")
    try:
        path = Path(json.loads(proc.stdout.readline())["path"])
        jpath = journal_path(path)

        def journaled() -> bool:
            recs = read_journal(jpath)
            blocks = sum(r.get("event") == "block" for r in recs)
            return blocks >= 4 and any(r.get("event") == "dropped" for r in recs)

        wait_until(journaled, timeout_s=30, what="the child journaling 4 blocks and a drop")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        sweep_stale_segments()
    records = read_journal(jpath)
    listed, dropped = _check_exact(records)
    assert dropped, "the slow disk dropped frames"
    with pytest.warns(IncompleteSeriesWarning):
        da = open_series(path)
    # the frames on disk are exactly the ones the journal lists, in order
    assert da.shape[0] == len(listed)
    assert list(_ring_indices(da)) == sorted(listed)
    assert da.attrs["frames_dropped"] >= len(dropped & set(range(max(listed))))
