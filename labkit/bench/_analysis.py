"""Bench suite ``analysis``: bead tracking over a spooled series with ``map_series`` on a local
Dask cluster (2 worker processes) beside one process doing the same, and on a series still being
written.

The series: 2,000 frames (400 with ``--quick``) of 1024² uint16 from
:class:`~labkit.devices.sim.SimTweezersCamera` (100 ring beads), spooled as zarr + blosc-lz4
through a real FrameRing and SpoolController (64 distinct rendered frames cycle through the
ring's slots, written DMA-like, lossless). Tracking: ``lk.track`` with the bead table of a
focus scan, 50 px ROIs.

The baseline runs the very tasks map_series sends to the workers (read a 64-frame shard,
``lk.track`` on it) one after another in one process, so the ratio is the parallel gain alone;
a third row compares with ``lk.track(lk.open_series(path))``, what a user would run.

Fair threads: the tracker runs its numba kernels on its own threads (2 by default on 2 cores).
Every side here runs ``threads=1``: one process tracks on one thread, each of the 2 workers on
one thread, so 2 workers use 2 cores against 1 (the figure the goal names). A second row gives
one process with the tracker's default 2 threads on the same 2 cores. Workers are started and
warmed (modules imported, kernels loaded) before timing, as the single process is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import xarray as xr

from labkit.bench._report import BenchResult
from labkit.bench._spool import _Host as _SpoolHost
from labkit.buffers import FrameRing
from labkit.devices.sim import SimStage, SimTweezersCamera
from labkit.processing.tracking import ZLUTBuilder, find_beads, track
from labkit.spool import SpoolController, open_series

__all__ = ["run"]

SHAPE = (1024, 1024)
N_SLOTS = 64
ROI_SIZE = 50


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


class _Host(_SpoolHost):
    """The spool bench's SpoolHost over a ring of 1024² rendered tweezers frames; ``produce``
    publishes ``n`` of them (paced to ``rate_hz``, or as fast as the spool reads: lossless)."""

    def __init__(self, frames: list[np.ndarray]) -> None:  # not the spool bench's 2048² ring
        self.frames = frames
        self.ring = FrameRing.create(SHAPE, np.uint16, n_slots=N_SLOTS)
        self.ring_name = self.ring.name
        for i in range(N_SLOTS):
            self.ring.write(frames[i % len(frames)])
        self.rate_hz = 200.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def produce(self, n: int, rate_hz: float | None) -> None:  # type: ignore[override]
        def run() -> None:
            period = 0.0 if rate_hz is None else 1.0 / rate_hz
            t_next = time.perf_counter()
            for _ in range(n):
                if rate_hz is None:
                    self.ring.wait_for_readers(N_SLOTS - 4, timeout=60)
                with self.ring.claim() as slot:  # the slot already holds a rendered frame
                    slot.meta.update(timestamp_s=time.time(), exposure_ms=5.0, z_um=0.0)
                if period:
                    t_next += period
                    pause = t_next - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)

        self._thread = threading.Thread(target=run, name="bench-analysis-producer", daemon=True)
        self._thread.start()

    def device_settings(self) -> dict:
        return {"camera": {"shape": list(SHAPE)}}


def _rig():
    """Rendered frames, the beads' ROIs and their z table (a 50 nm focus scan)."""
    stage = SimStage(speed_um_s=1e5)
    camera = SimTweezersCamera(sensor_shape=SHAPE, stage=stage)
    rois = find_beads(camera.snap()[0], roi_size=ROI_SIZE)
    with ZLUTBuilder(rois, SHAPE) as builder:
        for z in np.round(np.arange(-1.0, 1.001, 0.05), 3):
            stage.move(z=float(z))
            stage.wait(timeout_s=5)
            for _ in range(2):
                builder.add(camera.snap()[0], float(z))
        zlut = builder.build()
    stage.move(z=0.3)
    stage.wait(timeout_s=5)
    frames = [camera.snap()[0] for _ in range(N_SLOTS)]
    return frames, rois, zlut


def _spool(host: _Host, ctl: SpoolController, name: str, n: int, rate_hz: float | None):
    host.rate_hz = rate_hz or 200.0
    handle = ctl.start(  # shards of 64 frames (128 MB): one task each
        name,
        max_frames=n,
        compression="blosc-lz4",
        shard_seconds=64 / host.rate_hz,
        shard_max_mb=128,
        preflight_mode="skip",
    )
    host.produce(n, rate_hz)
    return handle


def _in_one_process(path: Path, rois, zlut, threads: int) -> float:
    """Seconds for one process to run map_series' own shard tasks one after another."""
    from labkit.analysis._tasks import Work, run_block
    from labkit.spool._follow import SeriesFollower

    follower = SeriesFollower(path)
    work = Work("chunk", fn=track, params={"rois": rois, "zlut": zlut, "threads": threads})
    t0 = time.perf_counter()
    for block in follower.poll():
        run_block(work, follower.source, block)
    return time.perf_counter() - t0


def _stop_time(path: Path) -> float:
    """``time.time()`` at which the series' writer journaled its stop line."""
    from labkit.spool._journal import journal_path, read_journal

    return next(r["time"] for r in read_journal(journal_path(path)) if r.get("event") == "stop")


def _warm(cluster, rois, zlut) -> None:
    """Import labkit's tracking and load its compiled kernels in every worker."""

    def warm() -> None:
        track(np.zeros((1, *SHAPE), np.uint16), rois, zlut, threads=1)

    cluster.client.run(warm)


def run(quick: bool = False) -> list[BenchResult]:
    from labkit.analysis import map_series, start_cluster

    n = 400 if quick else 2000
    frames, rois, zlut = _rig()
    tmp = Path(tempfile.mkdtemp(prefix="labkit-bench-analysis-"))
    host = _Host(frames)
    try:
        ctl = SpoolController(host, dir_pattern=str(tmp))
        handle = _spool(host, ctl, "offline", n, None)
        handle.wait(600)
        host.join()
        series = open_series(handle.path)
        assert isinstance(series, xr.DataArray)  # frames only, no trace streams
        track(series[:2], rois, zlut, threads=1)  # compile / load the kernels here too
        one_s = _in_one_process(handle.path, rois, zlut, threads=1)
        one_2t_s = _in_one_process(handle.path, rois, zlut, threads=2)
        t0 = time.perf_counter()
        one = track(series, rois, zlut, threads=1)
        lazy_s = time.perf_counter() - t0
        load_before = _load()
        with start_cluster(n_workers=2, threads_per_worker=1) as cluster:
            _warm(cluster, rois, zlut)
            t0 = time.perf_counter()
            out = map_series(
                handle.path, track, cluster, per="chunk", rois=rois, zlut=zlut, threads=1
            )
            dask_s = time.perf_counter() - t0
            same = bool(np.array_equal(out.values, one.values, equal_nan=True))
            # live: the camera paced so recording takes about as long as one process tracks
            rate = n / max(one_s, 1.0)
            live = _spool(host, ctl, "live", n, rate)
            t_start = time.time()
            out_live = map_series(
                live.path, track, cluster, per="chunk", rois=rois, zlut=zlut, threads=1
            )
            t_done = time.time()
            live.wait(600)
            host.join()
            closed_at = _stop_time(live.path)  # the journal's stop line: when the series closed
            lag_s = t_done - closed_at
            recorded_s = closed_at - t_start
            live_ok = out_live.sizes["time"] == n
        note = (
            f"{n} frames 1024² u16, {len(rois)} beads; threads=1 everywhere; same result as one "
            f"process: {same}; {load_before} → {_load()}"
        )
        return [
            BenchResult(
                "analysis: tracking a series, LocalCluster 2 workers vs one process",
                n / dask_s, "fps", "one process, same shard tasks, threads=1", n / one_s,
                goal=1.7, note=note,
            ),
            BenchResult(
                "analysis: tracking a series, 2 workers vs one process with 2 tracker threads",
                n / dask_s, "fps", "one process, same shard tasks, threads=2", n / one_2t_s,
                note=note,
            ),
            BenchResult(
                "analysis: tracking a series, 2 workers vs lk.track(lk.open_series(path))",
                n / dask_s, "fps", "lk.track on the lazy series, threads=1", n / lazy_s,
                note=note,
            ),
            BenchResult(
                "analysis: results after a live series closed vs mapping it after",
                lag_s, "s", "map_series after the series closed", dask_s,
                higher_is_better=False,
                note=f"recorded at {rate:.0f} fps for {recorded_s:.1f} s; all {n} frames tracked: "
                f"{live_ok}; {_load()}",
            ),
        ]  # fmt: skip
    finally:
        host.close()
        shutil.rmtree(tmp, ignore_errors=True)
