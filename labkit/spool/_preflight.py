"""Measured preflight: a write test in the target directory, codec speed/ratio on a real frame,
free space against the expected size, and the required bandwidth against what was measured."""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labkit.spool._blocks import Compressor

WRITE_TEST_MB = 64
SAFETY = 1.1  # free space must exceed the expected size by this factor
HEADROOM = 0.8  # required bandwidth must stay below this fraction of what was measured


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


def measure_write(
    dirname: Path, nbytes: int = WRITE_TEST_MB << 20, fsync: bool = True, max_s: float = 1.0
) -> float:
    """Sustained sequential write speed (bytes/s) in ``dirname``; the test file is removed.

    Writes 16 MB chunks with an fdatasync after each (so a disk cache that absorbs one burst
    does not inflate the figure), up to ``nbytes`` or ``max_s`` seconds.
    """
    dirname.mkdir(parents=True, exist_ok=True)
    test = dirname / f".labkit-writetest-{os.getpid()}"
    chunk = np.random.default_rng(0).integers(0, 2**16, 8 << 20, dtype=np.uint16)
    fd = os.open(test, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t0 = time.perf_counter()
        written = 0
        while written < nbytes and (written < 2 * chunk.nbytes or time.perf_counter() - t0 < max_s):
            written += os.write(fd, chunk.data)
            if fsync:
                os.fdatasync(fd)
        dt = time.perf_counter() - t0
    finally:
        os.close(fd)
        os.unlink(test)
    return written / max(dt, 1e-9)


def measure_codec(
    compressor: Compressor, frame: np.ndarray, threads: int = 1, duration_s: float = 0.25
) -> tuple[float, float]:
    """(bytes/s of ``threads`` threads together, compression ratio) on ``frame``.

    Each thread copies the frame (as the spool reader does) and compresses it, for
    ``duration_s``, so a busy machine shows up in the figure. (inf, 1.0) when uncompressed.
    """
    if not compressor.enabled:
        return float("inf"), 1.0
    ratio = frame.nbytes / max(1, len(compressor.compress_frame(frame)))
    done = [0] * threads

    def work(k: int) -> None:
        buf = np.empty_like(frame)
        deadline = time.perf_counter() + duration_s
        while time.perf_counter() < deadline:
            np.copyto(buf, frame)
            compressor.compress_frame(buf)
            done[k] += 1

    workers = [
        threading.Thread(target=work, args=(k,), name=f"labkit-preflight-{k}")
        for k in range(threads)
    ]
    t0 = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    dt = time.perf_counter() - t0
    return sum(done) * frame.nbytes / max(dt, 1e-9), ratio


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
) -> PreflightReport:
    rep = PreflightReport()
    m = rep.measured
    try:
        m["write_bytes_s"] = measure_write(Path(dirname), fsync=fsync)
        rep.checks.append((True, f"write test in {dirname}: {m['write_bytes_s'] / 1e6:.0f} MB/s"))
    except OSError as exc:
        m["write_bytes_s"] = 0.0
        rep.checks.append(
            (False, f"cannot write in {dirname}: {exc.strerror or exc}; choose another directory")
        )
    # the reader, writer and camera need a core too: count at most cpu_count - 1 codec threads
    usable = max(1, min(n_compress, (os.cpu_count() or 2) - 1))
    speed, ratio = measure_codec(compressor, frame, threads=usable)
    m["codec_bytes_s"], m["ratio"] = speed, ratio
    src = "a synthetic frame (no frame from the camera yet)" if synthetic else "a camera frame"
    if compressor.enabled:
        rep.checks.append(
            (
                True,
                f"{compressor.codec} on {src}: {speed / 1e9:.2f} GB/s on {usable} thread(s), ratio {ratio:.2f}",
            )
        )
    in_rate = frame_rate_hz * frame.nbytes
    out_rate = in_rate / ratio
    m["required_in_bytes_s"], m["required_out_bytes_s"] = in_rate, out_rate
    limits = [m["write_bytes_s"] * HEADROOM * ratio]
    if compressor.enabled:
        limits.append(speed * HEADROOM)
    m["accepted_rate_hz"] = min(limits) / frame.nbytes
    if compressor.enabled and speed * HEADROOM < in_rate:
        rep.checks.append(
            (
                False,
                f"compression needs {in_rate / 1e6:.0f} MB/s but measured {speed / 1e6:.0f} MB/s "
                f"(use ≤ {HEADROOM:.0%} of it); lower the frame rate or use compression=None",
            )
        )
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
    for check in extra or []:
        try:
            ok, msg = check()
        except Exception as exc:
            ok, msg = False, f"preflight check {getattr(check, '__name__', check)!r} raised {exc!r}"
        rep.checks.append((bool(ok), str(msg)))
    return rep
