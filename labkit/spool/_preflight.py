"""Measured preflight: a write test in the target directory, codec speed/ratio on a real frame,
free space against the expected size, and the required bandwidth against what was measured."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labkit.spool._blocks import ALIGN, Compressor, aligned_empty

WRITE_TEST_S = 0.6  # the write test runs this long (seconds) ...
WRITE_TEST_MAX_MB = 4096  # ... or until this much is written
PIPELINE_TEST_S = 0.8  # the end-to-end test runs this long (seconds)
SAFETY = 1.1  # free space must exceed the expected size by this factor
HEADROOM = 0.8  # the required rate must stay below this fraction of what was measured
_CHUNK_MB = 16


@dataclass
class PreflightReport:
    checks: list[tuple[bool, str]] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.checks)

    def problems(self) -> list[str]:
        return [msg for ok, msg in self.checks if not ok]

    def text(self) -> str:
        return "\n".join(("  ok  " if ok else "  FAIL ") + msg for ok, msg in self.checks)


def existing_parent(path: Path) -> Path:
    path = Path(path).expanduser().absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(existing_parent(path)).free


def _steady(marks: list[tuple[float, int]]) -> float:
    """Bytes/s over the second half of a run given (time_s, bytes_done) marks from t=0.

    The first half is dropped: a disk or host cache absorbs a burst before the sustained rate
    shows, and threads/page tables warm up there.
    """
    t_end, b_end = marks[-1]
    half = [m for m in marks if m[0] <= t_end / 2]
    t0, b0 = half[-1] if half else (0.0, 0)
    if t_end - t0 < 1e-6:
        return b_end / max(t_end, 1e-9)
    return (b_end - b0) / (t_end - t0)


def _open_test_file(path: Path, o_direct: bool) -> int:
    """A test file opened like the spool opens its shards (O_DIRECT when asked and possible)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    if o_direct and hasattr(os, "O_DIRECT"):
        try:
            return os.open(path, flags | os.O_DIRECT, 0o644)
        except OSError:  # e.g. tmpfs: the spool falls back to the page cache too
            pass
    return os.open(path, flags, 0o644)


def measure_write(
    dirname: Path,
    nbytes: int = WRITE_TEST_MAX_MB << 20,
    fsync: bool = True,
    max_s: float = WRITE_TEST_S,
    o_direct: bool = False,
) -> float:
    """Sustained sequential write speed (bytes/s) in ``dirname``; the test file is removed.

    Writes 16 MB chunks with an fdatasync after each for ``max_s`` seconds (or ``nbytes``) and
    returns the rate over the second half, so a page or host disk cache that absorbs the first
    burst does not inflate the figure. Raises OSError when the directory is not writable.
    """
    dirname.mkdir(parents=True, exist_ok=True)
    test = dirname / f".labkit-writetest-{os.getpid()}"
    chunk = aligned_empty(_CHUNK_MB << 20).view(np.uint16)
    chunk[:] = np.random.default_rng(0).integers(0, 2**16, chunk.size, dtype=np.uint16)
    fd = _open_test_file(test, o_direct)
    marks: list[tuple[float, int]] = []
    try:
        t0 = time.perf_counter()
        written = 0
        while written < nbytes and (len(marks) < 4 or time.perf_counter() - t0 < max_s):
            written += os.write(fd, chunk.data)
            if fsync:
                os.fdatasync(fd)
            marks.append((time.perf_counter() - t0, written))
    finally:
        os.close(fd)
        os.unlink(test)
    return _steady(marks)


def measure_pipeline(
    dirname: Path,
    compressor: Compressor,
    frame: np.ndarray,
    threads: int = 2,
    fsync: bool = True,
    duration_s: float = PIPELINE_TEST_S,
    o_direct: bool = False,
) -> tuple[float, float, float, float]:
    """End-to-end spool rate on ``frame``: (frames/s sustained, compression ratio, seconds run,
    longest stall in seconds between two frames reaching the file after the first).

    The spool's own work all at once, on the same cores: ``threads`` codec threads each copy the
    frame into a buffer (the reader's ring copy) and compress it; one writer thread appends the
    result to a file in ``dirname`` with an fdatasync every 64 MB (or every 0.25 s). Uncompressed,
    the writer writes the frame itself (direct mode). Whatever else runs (the camera, the engine)
    competes as it will during the series. The rate is taken over the second half of the run.
    Raises OSError when the directory is not writable.
    """
    ratio = 1.0
    if compressor.enabled:
        ratio = frame.nbytes / max(1, len(compressor.compress_frame(frame)))
    dirname.mkdir(parents=True, exist_ok=True)
    test = dirname / f".labkit-spooltest-{os.getpid()}"
    fd = _open_test_file(test, o_direct)
    # writes as the spool makes them: aligned buffers, lengths padded to ALIGN
    padded = -(-frame.nbytes // ALIGN) * ALIGN
    aligned_frame = aligned_empty(padded)
    aligned_frame[: frame.nbytes] = np.ascontiguousarray(frame).view(np.uint8).reshape(-1)
    stop = threading.Event()
    q: queue.Queue[np.ndarray] = queue.Queue(maxsize=2 * max(1, threads))
    marks: list[tuple[float, int]] = []
    errors: list[BaseException] = []
    t0 = time.perf_counter()

    def codec(_k: int) -> None:
        buf = np.empty_like(frame)
        # as in the spool: compress into preallocated buffers (enough that none is reused
        # while the writer may still hold it in the queue)
        size = -(-compressor.bound(frame.nbytes) // ALIGN) * ALIGN
        outs = [aligned_empty(size) for _ in range(q.maxsize + 2)]
        k = 0
        while not stop.is_set():
            np.copyto(buf, frame)
            dst = outs[k % len(outs)]
            k += 1
            out = dst[: -(-compressor.compress_into(buf, dst) // ALIGN) * ALIGN]
            while not stop.is_set():
                try:
                    q.put(out, timeout=0.05)
                    break
                except queue.Full:
                    continue

    def writer() -> None:
        done = unsynced = 0
        t_sync = time.perf_counter()
        try:
            while not stop.is_set():
                if compressor.enabled:
                    try:
                        data: Any = q.get(timeout=0.05)
                    except queue.Empty:
                        continue
                else:
                    data = aligned_frame
                n = os.write(fd, data)
                unsynced += n
                if fsync and (unsynced >= 64 << 20 or time.perf_counter() - t_sync > 0.25):
                    os.fdatasync(fd)
                    unsynced, t_sync = 0, time.perf_counter()
                done += 1
                marks.append((time.perf_counter() - t0, done))
        except OSError as exc:
            errors.append(exc)
            stop.set()

    workers = [threading.Thread(target=writer, name="labkit-preflight-writer")]
    if compressor.enabled:
        workers += [
            threading.Thread(target=codec, args=(k,), name=f"labkit-preflight-codec-{k}")
            for k in range(max(1, threads))
        ]
    try:
        for t in workers:
            t.start()
        stop.wait(duration_s)
    finally:
        stop.set()
        for t in workers:
            t.join()
        os.close(fd)
        os.unlink(test)
    if errors:
        raise errors[0]
    dt = time.perf_counter() - t0
    if len(marks) < 2:  # not one frame in the whole run: that is the rate
        return len(marks) / dt, ratio, dt, dt
    stall = max(b[0] - a[0] for a, b in zip(marks, marks[1:], strict=False))
    stall = max(stall, dt - marks[-1][0])
    return _steady(marks), ratio, dt, stall


def run_preflight(
    dirname: Path,
    frame: np.ndarray,
    compressor: Compressor,
    frame_rate_hz: float,
    n_frames: int | None,
    n_compress: int,
    fsync: bool,
    extra: list | None = None,
    synthetic: bool = False,
    buffer_frames: int | None = None,
    o_direct: bool = False,
    holds_whole_series: bool = False,
) -> PreflightReport:
    """Measure, then check the requested series against the measurements.

    Runs a write test (``WRITE_TEST_S``) and an end-to-end spool test (``PIPELINE_TEST_S``,
    ``n_compress`` codec threads + a writer with fdatasync, see ``measure_pipeline``) in
    ``dirname``: about 1.5 s. The accepted camera rate (``measured["accepted_rate_hz"]``) is
    ``HEADROOM`` × the lowest of the end-to-end rate, what the write test allows and (given
    ``buffer_frames``, the ring slots + shard pool in frames) the rate whose frames the buffers
    hold through the longest stall the end-to-end test saw. ``holds_whole_series``: the ring
    and the shard pool hold all ``n_frames`` of the series, so a spool slower than the camera
    still records every frame (it finishes after the camera): the rate and bandwidth findings
    are then reported as passing, with the time the spool will trail the camera. Never raises
    for a failed check: each lands in ``checks`` as (False, message naming the figures).
    """
    rep = PreflightReport()
    m = rep.measured
    fb = frame.nbytes
    try:
        m["write_bytes_s"] = measure_write(Path(dirname), fsync=fsync, o_direct=o_direct)
        rep.checks.append(
            (
                True,
                f"write test in {dirname}: {m['write_bytes_s'] / 1e6:.0f} MB/s sustained "
                f"({WRITE_TEST_S:g} s of {_CHUNK_MB} MB writes"
                + (" with O_DIRECT, as the shards" if o_direct else "")
                + (", fdatasync each)" if fsync else ", no fsync)"),
            )
        )
    except OSError as exc:
        m["write_bytes_s"] = 0.0
        rep.checks.append(
            (False, f"cannot write in {dirname}: {exc.strerror or exc}; choose another directory")
        )
    threads = max(1, n_compress)
    src = "a synthetic frame (no frame from the camera yet)" if synthetic else "a camera frame"
    if m["write_bytes_s"]:
        try:
            fps, ratio, dt, stall = measure_pipeline(
                Path(dirname), compressor, frame, threads, fsync, o_direct=o_direct
            )
        except OSError as exc:
            fps, ratio, dt, stall = 0.0, 1.0, 0.0, 0.0
            rep.checks.append((False, f"spool test in {dirname} failed: {exc.strerror or exc}"))
    else:
        fps, ratio, dt, stall = 0.0, 1.0, 0.0, 0.0
    m["stall_s"] = stall
    m["pipeline_fps"], m["ratio"] = fps, ratio
    m["codec_bytes_s"] = fps * fb if compressor.enabled else float("inf")
    what = (
        f"copy + {compressor.codec} on {threads} thread(s) + write"
        if compressor.enabled
        else "uncompressed write"
    )
    if fps:
        rep.checks.append(
            (
                True,
                f"end-to-end spool test ({what}{' + fdatasync' if fsync else ''}, {dt:.1f} s on "
                f"{src}, sharing the CPU with the camera): {fps:.0f} fps = {fps * fb / 1e6:.0f} MB/s "
                f"in, {fps * fb / ratio / 1e6:.0f} MB/s out, ratio {ratio:.2f}, longest stall "
                f"{stall * 1e3:.0f} ms"
                + (
                    f" (the buffers hold {buffer_frames} frames: ≤ {buffer_frames / stall:.0f} fps)"
                    if buffer_frames and stall > 0 and not holds_whole_series
                    else ""
                ),
            )
        )
    in_rate = frame_rate_hz * fb
    out_rate = in_rate / ratio
    m["required_in_bytes_s"], m["required_out_bytes_s"] = in_rate, out_rate
    write_fps = m["write_bytes_s"] * ratio / fb
    limits = [write_fps, fps]
    if buffer_frames and stall > 0 and not holds_whole_series:  # a stall must fit in them
        limits.append(buffer_frames / stall)
    m["accepted_rate_hz"] = HEADROOM * min(limits) if fps else 0.0
    if holds_whole_series and n_frames is not None:  # rate and bandwidth are one finding
        if fps and m["write_bytes_s"]:
            _check_buffered_series(rep, n_frames, frame_rate_hz, min(limits))
    else:
        _check_rate_and_bandwidth(rep, frame_rate_hz, out_rate, fps, what, compressor.enabled)
    free = free_bytes(Path(dirname))
    m["free_bytes"] = free
    if n_frames is not None:
        need = n_frames * frame.nbytes / ratio * SAFETY
        m["expected_bytes"] = need / SAFETY
        ok = free >= need
        rep.checks.append(
            (
                ok,
                f"free space {free / 1e9:.2f} GB for an expected {need / SAFETY / 1e9:.2f} GB (×{SAFETY})"
                + ("" if ok else "; free space, lower max_frames or enable compression"),
            )
        )
    else:
        secs = free / max(out_rate, 1.0)
        rep.checks.append(
            (True, f"no max_frames: {free / 1e9:.1f} GB free lasts about {secs / 60:.0f} min")
        )
    run_extra_checks(rep, extra)
    return rep


def _check_rate_and_bandwidth(
    rep: PreflightReport,
    frame_rate_hz: float,
    out_rate: float,
    fps: float,
    what: str,
    compressed: bool,
) -> None:
    """The disk's bandwidth and the end-to-end rate against what the series needs."""
    m = rep.measured
    if m["write_bytes_s"] and m["write_bytes_s"] * HEADROOM < out_rate:
        rep.checks.append(
            (
                False,
                f"the disk writes {m['write_bytes_s'] / 1e6:.0f} MB/s but the series needs "
                f"{out_rate / 1e6:.0f} MB/s at {frame_rate_hz:g} fps (use ≤ {HEADROOM:.0%} of it); "
                "lower the frame rate, bin, or enable compression",
            )
        )
    elif m["write_bytes_s"]:
        rep.checks.append(
            (
                True,
                f"bandwidth: needs {out_rate / 1e6:.0f} MB/s of {m['write_bytes_s'] / 1e6:.0f} MB/s measured",
            )
        )
    if fps and frame_rate_hz > m["accepted_rate_hz"]:
        rep.checks.append(
            (
                False,
                f"the spool sustained {fps:.0f} fps end to end here ({what}); {frame_rate_hz:g} fps is "
                f"above {HEADROOM:.0%} of it (≤ {m['accepted_rate_hz']:.0f} fps accepted); lower the "
                "frame rate, bin, "
                + (
                    "use compression=None or more compress_threads"
                    if compressed
                    else "or enable compression"
                ),
            )
        )
    elif fps:
        rep.checks.append(
            (True, f"rate: {frame_rate_hz:g} fps of ≤ {m['accepted_rate_hz']:.0f} fps accepted")
        )


def _check_buffered_series(
    rep: PreflightReport, n_frames: int, frame_rate_hz: float, spool_fps: float
) -> None:
    """A series the buffers hold whole: any spool rate records every frame; say how long the
    spool trails the camera when it is the slower one."""
    camera_s = n_frames / max(frame_rate_hz, 1e-9)
    spool_s = n_frames / max(spool_fps, 1e-9)
    trail = (
        f"; the spool ({spool_fps:.0f} fps measured) finishes about {spool_s - camera_s:.1f} s "
        "after the camera"
        if spool_s > camera_s
        else f" and the spool keeps up ({spool_fps:.0f} fps measured)"
    )
    rep.checks.append(
        (
            True,
            f"rate: the ring and shard buffers hold all {n_frames} frames of the series, so "
            f"none is dropped at {frame_rate_hz:g} fps{trail}",
        )
    )


def run_extra_checks(rep: PreflightReport, extra: list | None) -> None:
    """A protocol's own ``() -> (ok, message)`` checks, each one line of the report."""
    for check in extra or []:
        try:
            ok, msg = check()
        except Exception as exc:
            ok, msg = False, f"preflight check {getattr(check, '__name__', check)!r} raised {exc!r}"
        rep.checks.append((bool(ok), str(msg)))
