"""Preflight of a series from a camera's frames: a sample frame, the buffering between camera and
disk, and the disk (or object store) checks of :mod:`labkit.spool._preflight`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from labkit.spool._blocks import Compressor
from labkit.spool._layout import Layout
from labkit.spool._preflight import PreflightReport, run_preflight
from labkit.spool._store import ObjectStore
from labkit.spool._streams import CameraSource

__all__ = ["MIN_BUFFER_S", "preflight_series"]

MIN_BUFFER_S = 0.5  # ring + shard pool must hold this much time of frames


def preflight_series(
    camera: CameraSource, dirname: Any, s: dict, sinks: dict[str, Any]
) -> PreflightReport:
    """Check that a series with settings ``s`` of ``camera``'s frames can be written to
    ``dirname`` (a directory or an object store) at the camera's rate without dropping frames."""
    sample, synthetic, n_slots = _sample_frame(camera)
    # buffering between camera and disk: ring slots + the shard pool, in seconds of frames
    rate = max(camera.frame_rate_hz(), 1e-9)
    layout = Layout.plan(
        sample.shape,
        str(sample.dtype),
        rate,
        0,
        1,
        s["max_frames"],
        s["shard_seconds"],
        s["shard_max_mb"],
    )
    n_buf = n_slots + s["queue_shards"] * layout.slots_per_shard
    if isinstance(dirname, ObjectStore):
        from labkit.spool._preflight_store import run_store_preflight

        report = run_store_preflight(
            dirname, sample, camera.frame_rate_hz(), s["protocol"].preflight
        )
    else:
        report = _disk_preflight(dirname, s, camera, sample, synthetic, n_buf, sinks)
    buffer_s = n_buf / rate
    report.measured["buffer_s"] = buffer_s
    buffer_frames = n_buf
    ok = buffer_s >= MIN_BUFFER_S or (
        s["max_frames"] is not None and s["max_frames"] <= buffer_frames
    )
    report.checks.append(
        (
            ok,
            f"buffering {buffer_s:.2f} s of frames (ring {n_slots} slots + "
            f"{s['queue_shards']} shards of {layout.slots_per_shard})"
            + (
                ""
                if ok
                else f"; below {MIN_BUFFER_S} s a disk stall drops frames: raise "
                "queue_shards or the scope's ring_slots, or lower the frame rate"
            ),
        )
    )
    return report


def _disk_preflight(
    dirname: Path,
    s: dict,
    camera: CameraSource,
    sample: np.ndarray,
    synthetic: bool,
    n_buf: int,
    sinks: dict[str, Any],
) -> PreflightReport:
    return run_preflight(
        dirname,
        sample,
        Compressor(s["compression"], sample.dtype.itemsize),
        camera.frame_rate_hz(),
        s["max_frames"],
        s["compress_threads"],
        s["fsync"],
        s["protocol"].preflight,
        synthetic,
        buffer_frames=n_buf,
        # a series the buffers hold whole drops nothing however slow the spool is
        holds_whole_series=s["max_frames"] is not None and s["max_frames"] <= n_buf,
        # the write path the method takes (zarr writes shards with O_DIRECT)
        o_direct=bool(getattr(sinks[s["method"]], "uses_o_direct", False)),
    )


def _sample_frame(camera: CameraSource) -> tuple[np.ndarray, bool, int]:
    reader = camera.open_reader("spool-preflight")
    try:
        frame = reader.latest()
        if frame is None and reader.wait(1.0):
            frame = reader.latest()
        ring = reader.ring
        if frame is not None:
            return frame.data, False, ring.n_slots
        rng = np.random.default_rng(0)
        return rng.poisson(100, ring.shape).astype(ring.dtype), True, ring.n_slots
    finally:
        reader.close()
