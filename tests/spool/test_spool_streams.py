"""Several streams in one series: a camera's frames plus signals and node outputs, one clock."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from spool_host import StreamHost
from test_faults import _child

import labkit as lk
from labkit.buffers import sweep_stale_segments
from labkit.spool import (
    IncompleteSeriesWarning,
    SpoolController,
    SpoolError,
    SpoolStreamError,
    open_series,
    repair_series,
)
from labkit.spool._journal import journal_path, read_journal
from labkit.testing import wait_until

RATE_HZ = 50.0


@pytest.fixture(scope="module", params=["thread", "process"])
def rig(request):
    """A two-camera rig with a signal, per engine mode, shared by the module's tests."""
    scope = lk.Scope(mode=request.param, devices="labkit.devices.sim:rig_devices",
                     shape=(64, 80), ring_slots=16)  # fmt: skip
    scope.camera.frame_rate_hz = RATE_HZ
    yield scope
    scope.close()


@pytest.fixture
def scope(rig, tmp_path):
    rig.spool.dir_pattern = str(tmp_path / "data")
    yield rig
    rig.spool.stop()
    if rig.state is lk.EngineState.RUNNING:
        rig.stop()


@pytest.mark.parametrize("method", ["zarr", "hdf5"])
def test_frames_signal_and_node_trace_open_as_an_aligned_dataset(scope, method):
    scope.nodes.add("frame_stats", name="stats")
    try:
        scope.start()
        h = scope.spool.start(max_frames=30, method=method, trace_streams=["signal", "stats"],
                              preflight_mode="skip")  # fmt: skip
        progress = h.wait(timeout=60)
        node_lost = scope.health().nodes["stats"]["frames_lost"]  # a node may fall behind too
    finally:
        scope.nodes.remove("stats")
    assert progress.frames_written == 30
    ds = open_series(h.path)
    assert isinstance(ds, xr.Dataset)
    assert not ds["frames"].variable._in_memory  # the frames stay lazy
    assert ds["frames"].dims == ("t", "y", "x") and ds["frames"].shape == (30, 64, 80)
    assert ds.attrs["frames_stream"] == "camera" and ds.attrs["complete"]
    t = ds["t"].values
    t_end = t[-1] + 1 / RATE_HZ  # the last frame's period ends the series' span

    # the node's row for each frame has that frame's timestamp: found exactly, and it is right
    stats = ds["stats"]
    assert stats.attrs["rows_lost"] == 0 and stats.attrs["caught_up"]
    assert list(stats["stats_channel"].values) == ["min", "max", "mean", "saturated"]
    has_row = np.isin(t, stats["stats_time"].values)
    assert (~has_row).sum() <= node_lost and has_row.sum() >= 20
    at_frames = stats.sel(stats_time=t[has_row])  # KeyError if the clocks differed
    frames = ds["frames"].values[has_row].astype(float)
    assert np.allclose(at_frames.sel(stats_channel="mean"), frames.mean(axis=(1, 2)), rtol=1e-12)
    assert np.array_equal(at_frames.sel(stats_channel="max"), frames.max(axis=(1, 2)))
    assert np.array_equal(at_frames["stats_timestamp_s"], ds["timestamp_s"][has_row])
    assert stats["stats_time"].values.max() <= t_end

    # the signal: every sample (1 kHz, no gap) over the whole span, none outside it
    sig = ds["signal"]
    assert sig.attrs["rows_lost"] == 0 and sig.attrs["caught_up"]
    assert sig.attrs["units"] == scope.streams["signal"].units
    assert list(sig["signal_channel"].values) == list(scope.streams["signal"].channels)
    st = sig["signal_time"].values
    period = 1 / float(scope.signal.sample_rate_hz)
    assert np.allclose(np.diff(st), period, atol=1e-6)
    assert 0 <= st[0] < period and t_end - period < st[-1] <= t_end
    at_t = sig.sel(signal_time=ds["t"], method="nearest", tolerance=period)  # one clock
    assert at_t.shape == (30, 3) and np.isfinite(at_t.values).all()


def test_one_stream_series_is_still_a_dataarray_and_any_camera_can_be_it(scope):
    scope.devices["camera2"].frame_rate_hz = RATE_HZ
    scope.start()
    h = scope.spool.start(max_frames=8, preflight_mode="skip")
    h.wait(timeout=60)
    first = open_series(h.path)
    assert isinstance(first, xr.DataArray) and first.shape == (8, 64, 80)
    assert first.attrs["frames_stream"] == "camera"
    h2 = scope.spool.start(max_frames=8, frames_stream="camera2", preflight_mode="skip")
    h2.wait(timeout=60)
    second = open_series(h2.path)
    assert isinstance(second, xr.DataArray) and second.shape == (8, 32, 40)
    assert second.attrs["frames_stream"] == "camera2"
    assert second.attrs["pixel_size_um"] == scope.devices["camera2"].pixel_size_um


def test_bad_streams_raise_the_named_error_and_write_nothing(scope, tmp_path):
    spool = scope.spool
    before = spool.handle  # the last series of the shared scope
    listing = r"streams: camera \(frames\), camera2 \(frames\), signal \(trace\)"
    with pytest.raises(SpoolStreamError, match=rf"no stream named 'nope'; {listing}"):
        spool.start(max_frames=5, trace_streams=["nope"], preflight_mode="skip")
    with pytest.raises(
        SpoolStreamError, match=rf"frames_stream: no stream named 'cam9'; {listing}"
    ):
        spool.start(max_frames=5, frames_stream="cam9", preflight_mode="skip")
    with pytest.raises(SpoolStreamError, match="'camera2' carries frames: a series records one "
                       "camera's frames .*frames_stream='camera2'"):  # fmt: skip
        spool.start(max_frames=5, trace_streams=["camera2"], preflight_mode="skip")
    with pytest.raises(SpoolStreamError, match="'signal' carries trace, not frames"):
        spool.start(max_frames=5, frames_stream="signal", preflight_mode="skip")
    with pytest.raises(SpoolStreamError, match="method 'tiff' stores one camera's frames only; "
                       "a series with trace streams needs method 'zarr' or 'hdf5'"):  # fmt: skip
        spool.start(max_frames=5, method="tiff", compression=None, trace_streams=["signal"],
                    preflight_mode="skip")  # fmt: skip
    with pytest.raises(SpoolError, match="trace_streams lists a stream twice"):
        spool.update_settings(trace_streams=["signal", "signal"])
    with pytest.raises(SpoolError, match="trace_streams must be a list of stream names"):
        spool.update_settings(trace_streams=[3])
    assert issubclass(SpoolStreamError, LookupError) and spool.handle is before
    assert not (tmp_path / "data").exists()


def test_a_host_without_streams_says_so(spool):
    with pytest.raises(SpoolStreamError, match="has no named streams"):
        spool.start(max_frames=5, trace_streams=["signal"], preflight_mode="skip")


@pytest.fixture
def stream_host():
    h = StreamHost(capacity=64, rate_hz=200)
    yield h
    h.close()


def test_lost_rows_are_counted_and_rows_past_the_end_are_not_kept(stream_host, tmp_path):
    host = stream_host
    ctl = SpoolController(host, dir_pattern=str(tmp_path))
    h = ctl.start(trace_streams="daq", preflight_mode="skip", fsync_interval_s=0.05)
    try:
        wait_until(lambda: h.progress.frames_read, what="the first frame: the span starts")
        host.write_rows(5, time.time() - 60)  # stamped before the series: not in it
        t_rows = time.time()
        host.write_rows(10, t_rows)
        wait_until(lambda: h.traces["daq"]["rows"] == 10, what="the first rows recorded")
        host.write_rows(1000, t_rows)  # 1000 rows into 64: the recorder cannot see 936 of them
        wait_until(lambda: h.traces["daq"] == {"rows": 74, "rows_lost": 936}, what="the loss")
        host.write_rows(5, t_rows + 1e6)  # stamped long after the series
        wait_until(lambda: h.traces["daq"]["rows"] == 79, what="the late rows recorded")
        # a frame stamped after the rows (ring of 32: the 34th frame read from now was written
        # after them), so they are inside the span
        read = h.progress.frames_read
        wait_until(lambda: h.progress.frames_read > read + 34, what="frames after the rows")
    finally:
        h.stop()
    ds = open_series(h.path)
    daq = ds["daq"]
    assert daq.attrs["rows"] == 74 and daq.attrs["rows_lost"] == 936
    row = daq.sel(daq_channel="row").values
    assert np.array_equal(row, np.r_[5:15, 951:1015])  # the 64 newest of the 1000 survived
    assert np.array_equal(daq.sel(daq_channel="double").values, 2 * row)
    assert (daq["daq_timestamp_s"].values == t_rows).all()
    lost = [r for r in read_journal(journal_path(h.path)) if r.get("event") == "trace_lost"]
    assert lost == [{"event": "trace_lost", "stream": "daq", "count": 936, "before_row": 10}]
    # plain Zarr v3 arrays in the series' group: zarr-python and xarray read them as they are
    group = xr.open_zarr(str(h.path), group="traces/daq", consolidated=False, zarr_format=3,
                         chunks=None)  # fmt: skip
    assert np.array_equal(group["values"].values, daq.values)
    assert np.array_equal(group["time"].values, daq["daq_timestamp_s"].values)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["zarr", "hdf5"])
def test_kill9_keeps_journaled_trace_rows_and_repair_closes_them(tmp_path, method):
    proc = _child(tmp_path, f"crash-traces-{method}")
    try:
        path = Path(json.loads(proc.stdout.readline())["path"])
        jpath = journal_path(path)
        wait_until(
            lambda: sum(r.get("event") == "trace" for r in read_journal(jpath)) >= 3,
            timeout_s=30, what="trace rows journaled three times",
        )  # fmt: skip
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        sweep_stale_segments()  # the child's ring and trace buffer (their owner is dead)
    journaled = [r["rows"] for r in read_journal(jpath) if r.get("event") == "trace"][-1]
    with pytest.warns(IncompleteSeriesWarning, match="labkit repair"):
        ds = open_series(path)
    rows = ds["daq"].sel(daq_channel="row").values
    assert len(rows) == journaled > 0
    assert np.all(np.diff(rows) == 1), "every journaled row is on disk, in order, no gap"
    assert repair_series(path)["status"] == "repaired"
    closed = open_series(path)  # no warning now (warnings are errors in this suite)
    assert closed.attrs["status"] == "repaired" and closed["daq"].attrs["rows"] == journaled
    assert np.array_equal(closed["daq"].values, ds["daq"].values)
    assert not list(path.parent.rglob(".*.tmp"))
