"""Series in fsspec stores: spooled to memory:// and to a local S3 server (moto), opened back,
read by zarr-python, and what a kill -9 leaves there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import labkit as lk
from labkit.analysis import map_series
from labkit.buffers import sweep_stale_segments
from labkit.spool import IncompleteSeriesWarning, SeriesExistsError, SpoolError
from labkit.spool._follow import SeriesFollower
from labkit.testing import wait_until

HERE = Path(__file__).parent


@pytest.fixture
def scope():
    with lk.Scope(shape=(48, 64)) as s:
        s.start()
        yield s


def _memory_url() -> str:
    return f"memory://labkit-test-{uuid.uuid4().hex[:8]}"


def _frames_match_journal(da) -> None:
    """Every frame holds camera pixels (not the zero fill value) and t starts at 0."""
    values = np.asarray(da.values)
    assert values.reshape(len(values), -1).max(axis=1).min() > 0
    assert da.t.values[0] == 0.0
    assert np.all(np.diff(da.timestamp_s.values) > 0)


@pytest.mark.parametrize("compression", ["blosc-lz4", None])
def test_spool_to_memory_store_and_open(scope, compression):
    base = _memory_url()
    h = scope.spool.start(
        f"{base}/run",
        max_frames=40,
        shard_seconds=0.1,
        compression=compression,
        preflight_mode="warn",
    )
    assert isinstance(h.path, str) and h.path.endswith("run.ome.zarr")
    assert any("PUT test" in msg for _, msg in h.preflight.checks)
    h.wait(60)
    da = lk.open_series(h.path)
    assert da.shape == (40, 48, 64) and da.attrs["status"] == "complete"
    _frames_match_journal(da)
    # zarr-python reads the same store
    import zarr

    arr = zarr.open_group(h.path, mode="r")["0"]
    np.testing.assert_array_equal(arr[5], da[5].values)
    np.testing.assert_array_equal(arr[39], da[39].values)


def test_store_names_follow_on_and_never_overwrite(scope):
    base = _memory_url()
    scope.spool.dir_pattern = base
    first = scope.spool.start(max_frames=3, preflight_mode="skip")
    first.wait(60)
    second = scope.spool.start(max_frames=3, preflight_mode="skip")
    second.wait(60)
    assert first.series_name.endswith("_A") and second.series_name.endswith("_B")
    assert second.path.startswith("memory://") and second.path.endswith("_B.ome.zarr")
    with pytest.raises(SeriesExistsError, match="never overwrites"):
        scope.spool.start(first.path, max_frames=3, preflight_mode="skip")
    with pytest.raises(SpoolError, match="method='zarr'"):
        scope.spool.start(f"{base}/single", method="hdf5", max_frames=3, preflight_mode="skip")
    assert np.isnan(scope.spool.get_free_space())


def test_storage_options_on_a_local_path_are_refused(tmp_path):
    with pytest.raises(TypeError, match="fsspec URLs"):
        lk.open_series(tmp_path / "x.ome.zarr", storage_options={"anon": True})


def test_spool_to_s3_and_open(scope, s3):
    url, options = s3
    scope.spool.storage_options = options
    h = scope.spool.start(
        f"{url}/day1/run", max_frames=30, shard_seconds=0.1, preflight_mode="warn"
    )
    h.wait(60)
    assert h.path == f"{url}/day1/run.ome.zarr"
    da = lk.open_series(h.path, storage_options=options)
    assert da.shape == (30, 48, 64) and da.attrs["status"] == "complete"
    _frames_match_journal(da)
    import s3fs

    fs = s3fs.S3FileSystem(**options)
    keys = fs.find(h.path)
    assert not [k for k in keys if k.endswith(".tmp")]  # objects are PUT whole, no temp keys
    segments = fs.ls(f"{url}/day1/run.ome.zarr.journal")
    assert len(segments) >= 3  # start, blocks..., stop


def test_kill_9_while_spooling_to_s3_keeps_every_listed_shard(s3, tmp_path):
    """A child spooling to S3 is killed; the journal segments it PUT list exactly the frames
    that open_series returns, all with camera pixels, and a follower sees an open series."""
    url, options = s3
    child = subprocess.Popen(
        [sys.executable, str(HERE / "s3_spool_child.py"), f"{url}/crash", json.dumps(options)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        path = json.loads(child.stdout.readline())["path"]
        follower = wait_until(lambda: _follower(path, options), 60, "the series' metadata")
        listed: list = []
        wait_until(lambda: listed.extend(follower.poll()) or len(listed) >= 8, 60, "8 shards")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        child.stdout.close()
        sweep_stale_segments()  # the killed child's frame ring
    listed.extend(follower.poll())  # segments PUT between the last poll and the kill
    assert not follower.ended  # no stop line: the writer died
    frames = sorted(f for b in listed for f in b.frames)
    with pytest.warns(IncompleteSeriesWarning, match="not closed"):
        da = lk.open_series(path, storage_options=options)
    assert list(da.frame_z_um.notnull().values.nonzero()[0]) == frames
    assert frames == list(range(len(frames)))  # no hole: shards are listed in order
    _frames_match_journal(da)
    # map_series on the dead writer's series: no stop line, so it ends after idle_timeout_s
    with pytest.warns(IncompleteSeriesWarning, match="was not closed"):
        peaks = map_series(path, _peak, n_workers=1, storage_options=options, idle_timeout_s=0.5)
    assert list(peaks.frame.values) == frames
    np.testing.assert_array_equal(peaks.values, da.max(("y", "x")).values)


def _peak(frame, meta):
    return float(frame.max())


def _follower(path: str, options: dict):
    try:
        return SeriesFollower(path, options)
    except FileNotFoundError:
        return None
