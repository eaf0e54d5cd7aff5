"""The preflight of a series going to an object store: a PUT test instead of a disk test.

Free space and O_DIRECT mean nothing there; what limits a series is how fast whole shard
objects can be PUT. The test writes ``_OBJECT_MB`` objects for ``PUT_TEST_S`` under a hidden
prefix beside the series and removes them.
"""

from __future__ import annotations

import time
import uuid

import numpy as np

from labkit.spool._preflight import HEADROOM, PreflightReport, run_extra_checks
from labkit.spool._store import ObjectStore

PUT_TEST_S = 0.6
_OBJECT_MB = 8


def measure_put(store: ObjectStore, seconds: float = PUT_TEST_S) -> float:
    """Bytes/s of whole-object PUTs into ``store`` (objects removed afterwards)."""
    scratch = store.child(f".labkit-preflight-{uuid.uuid4().hex[:8]}")
    data = np.random.default_rng(0).integers(0, 255, _OBJECT_MB << 20, np.uint8).tobytes()
    sent = 0
    t0 = time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds:
            scratch.put(f"{(sent // len(data)) % 2}", data)  # two objects, overwritten
            sent += len(data)
        elapsed = time.perf_counter() - t0
    finally:
        try:
            scratch.fs.rm(scratch.root, recursive=True)
        except FileNotFoundError:  # pragma: no cover - nothing was written
            pass
    return sent / max(elapsed, 1e-9)


def run_store_preflight(
    store: ObjectStore, frame: np.ndarray, frame_rate_hz: float, extra: list | None = None
) -> PreflightReport:
    """PUT test, and the camera's uncompressed byte rate against ``HEADROOM`` × its result (the
    compression ratio is not measured here, so compressed series have a margin)."""
    rep = PreflightReport()
    m = rep.measured
    try:
        m["write_bytes_s"] = measure_put(store)
    except OSError as exc:
        m["write_bytes_s"] = 0.0
        rep.checks.append((False, f"cannot write to {store.url}: {exc}; check the URL and access"))
        run_extra_checks(rep, extra)
        return rep
    need = frame.nbytes * frame_rate_hz
    m["required_in_bytes_s"] = need
    ok = need <= HEADROOM * m["write_bytes_s"]
    rep.checks.append(
        (
            ok,
            f"PUT test to {store.url}: {m['write_bytes_s'] / 1e6:.0f} MB/s ({PUT_TEST_S:g} s of "
            f"{_OBJECT_MB} MB objects); the camera makes {need / 1e6:.0f} MB/s uncompressed"
            + ("" if ok else f", above {HEADROOM:.0%} of it: lower the frame rate or bin"),
        )
    )
    run_extra_checks(rep, extra)
    return rep
