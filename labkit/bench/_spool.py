"""``labkit bench spool``: spool throughput beside a raw sequential write of the same bytes.

Frames are 2048² uint16 from the SimCamera (rendered once into every ring slot), published
through a real FrameRing without a CPU copy, as a frame grabber's DMA would. Every writer ends with fsync/fdatasync so the page cache cannot hide the disk.
Sizes: 2 GB per writer (300 MB with --quick), in a temp dir that is removed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from labkit.bench._report import BenchResult
from labkit.buffers import FrameRing
from labkit.spool import SpoolController

SHAPE = (2048, 2048)


def _frames(n: int = 8) -> list[np.ndarray]:
    from labkit.devices.sim import SimCamera

    cam = SimCamera(sensor_shape=SHAPE, seed=1)
    out = []
    for _ in range(n):
        a = np.empty(cam.shape, cam.dtype)
        cam.render_into(a)
        out.append(a)
    cam.close()
    return out


def _sync_dir(path: Path) -> None:
    os.sync()


class _Host:
    """A SpoolHost whose producer either paces to a frame rate or waits for the spool (lossless)."""

    def __init__(self, frames: list[np.ndarray], n_slots: int) -> None:
        self.frames = frames
        self.ring = FrameRing.create(SHAPE, np.uint16, n_slots=n_slots)
        self.ring_name = self.ring.name
        for i in range(n_slots):  # the slots hold sim frames once; producing is then DMA-like
            self.ring.write(frames[i % len(frames)])
        self.rate_hz = 100.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def produce(self, rate_hz: float | None) -> None:
        """Write frames until ``join()``; ``rate_hz=None`` waits for the 'spool' reader instead of pacing."""

        def run() -> None:
            t_next = time.perf_counter()
            period = 0.0 if rate_hz is None else 1.0 / rate_hz
            while not self._stop.is_set():
                if rate_hz is None:
                    while not self._stop.is_set():
                        lag = self.ring.stats()["readers"].get("spool", {}).get("lag", 0)
                        if lag < self.ring.n_slots - 4:
                            break
                        time.sleep(0.001)
                # like a frame grabber DMA-ing into the ring: no CPU copy (the slot already
                # holds a sim frame), so the spool and the raw baseline both pay one copy
                with self.ring.claim() as slot:
                    slot.meta.update(timestamp_s=time.time(), exposure_ms=10.0, z_um=0.0)
                if period:
                    t_next += period
                    d = t_next - time.perf_counter()
                    if d > 0:
                        time.sleep(d)

        self._stop.clear()
        self._thread = threading.Thread(target=run, name="bench-producer", daemon=True)
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()

    def open_reader(self, name: str):
        return self.ring.reader(name)

    def frame_rate_hz(self) -> float:
        return self.rate_hz

    def device_settings(self) -> dict:
        return {"camera": {"shape": list(SHAPE)}}

    def move_stage(self, z_um: float, wait: bool = True) -> None:
        pass

    def set_property(self, device: str, name: str, value) -> None:
        pass

    def emit(self, topic: str, payload: dict) -> None:
        pass

    def pixel_size_um(self) -> float:
        return 0.1

    def close(self) -> None:
        self.join()
        self.ring.close()


def _raw(
    dirname: Path, frames: list[np.ndarray], n: int, sync_every: int = 0, o_direct: bool = False
) -> float:
    """One file, frames appended with os.write, fdatasync at the end (and every ``sync_every``
    frames); ``o_direct``: from page-aligned copies of the frames, bypassing the page cache."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    if o_direct:
        from labkit.spool._blocks import aligned_empty

        aligned = []
        for f in frames:
            a = aligned_empty(f.nbytes)
            a[:] = f.view(np.uint8).reshape(-1)
            aligned.append(a)
        frames = aligned
        flags |= os.O_DIRECT
    t0 = time.perf_counter()
    fd = os.open(dirname / "raw.bin", flags, 0o644)
    for i in range(n):
        os.write(fd, frames[i % len(frames)].data)
        if sync_every and (i + 1) % sync_every == 0:
            os.fdatasync(fd)
    os.fdatasync(fd)
    os.close(fd)
    return time.perf_counter() - t0


def _raw_from_ring(dirname: Path, host: _Host, n: int) -> float:
    """``_raw`` with O_DIRECT from the ring's own slots (shared memory, 4 KiB pages): the same
    source memory the labkit direct mode writes from."""
    slots = host.ring._live_layout().data
    fd = os.open(dirname / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    t0 = time.perf_counter()
    for i in range(n):
        os.write(fd, slots[i % len(slots)].data)
    os.fdatasync(fd)
    os.close(fd)
    return time.perf_counter() - t0


def _labkit(host: _Host, ctl: SpoolController, n: int, compression, rate_hz: float | None = None):
    host.rate_hz = rate_hz or 100.0
    h = ctl.start(max_frames=n, compression=compression, preflight_mode="skip")
    t0 = time.perf_counter()
    host.produce(rate_hz)
    p = h.wait(timeout=600)
    dt = time.perf_counter() - t0
    host.join()
    return dt, p, h.path


def _timings(path: Path) -> str:
    """Where a series' time went, from its final attrs (reader waiting for a buffer, codecs
    summed over threads, writer, fdatasync)."""
    import json

    attrs = json.loads((path / "zarr.json").read_text())["attributes"]["labkit"]
    t = attrs.get("timings_s", {})
    fast = attrs.get("frames_fast_codec", 0)
    return ", ".join(f"{k} {v:.2f} s" for k, v in t.items()) + (
        f"; {fast} frames at the codec's fast level" if fast else ""
    )


def _tifffile(dirname: Path, frames: list[np.ndarray], n: int) -> float:
    import tifffile

    t0 = time.perf_counter()
    with tifffile.TiffWriter(dirname / "t.tif", bigtiff=True) as tif:
        for i in range(n):
            tif.write(frames[i % len(frames)], contiguous=True)
        tif.filehandle.flush()
        os.fsync(tif.filehandle.fileno())
    return time.perf_counter() - t0


def _zarr_python(dirname: Path, frames: list[np.ndarray], n: int, per_shard: int) -> float:
    import zarr
    from zarr.codecs import BloscCodec

    t0 = time.perf_counter()
    arr = zarr.create_array(
        store=str(dirname / "z.zarr"),
        shape=(n, *SHAPE),
        dtype="uint16",
        chunks=(1, *SHAPE),
        shards=(per_shard, *SHAPE),
        compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
    )
    stack = np.stack([frames[i % len(frames)] for i in range(per_shard)])
    for s in range(0, n, per_shard):
        k = min(per_shard, n - s)
        arr[s : s + k] = stack[:k]
    _sync_dir(dirname)
    return time.perf_counter() - t0


def _tensorstore(dirname: Path, frames: list[np.ndarray], n: int, per_shard: int) -> float:
    import tensorstore as ts

    inner = [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {
            "name": "blosc",
            "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 2},
        },
    ]
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(dirname / "ts.zarr")},
        "metadata": {
            "shape": [n, *SHAPE],
            "data_type": "uint16",
            "chunk_grid": {
                "name": "regular",
                "configuration": {"chunk_shape": [per_shard, *SHAPE]},
            },
            "codecs": [
                {
                    "name": "sharding_indexed",
                    "configuration": {"chunk_shape": [1, *SHAPE], "codecs": inner},
                }
            ],
        },
        "create": True,
    }
    t0 = time.perf_counter()
    arr = ts.open(spec).result()
    stack = np.stack([frames[i % len(frames)] for i in range(per_shard)])
    futures = []
    for s in range(0, n, per_shard):
        k = min(per_shard, n - s)
        futures.append(arr[s : s + k].write(stack[:k]))
        if len(futures) > 2:
            futures.pop(0).result()
    for f in futures:
        f.result()
    _sync_dir(dirname)
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[BenchResult]:
    frames = _frames()
    fb = frames[0].nbytes
    n = int((300e6 if quick else 2e9) // fb)
    mb = n * fb / 1e6
    tmp = Path(tempfile.mkdtemp(prefix="labkit-bench-spool-"))
    host = _Host(frames, n_slots=32 if quick else 64)
    results: list[BenchResult] = []
    try:
        ctl = SpoolController(host, dir_pattern=str(tmp / "series"))
        per_shard = 8
        _labkit(host, ctl, 16, None)  # warm up threads, allocator, page tables
        _labkit(host, ctl, 16, "blosc-lz4")

        def clean() -> None:
            for p in tmp.iterdir():
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            os.sync()

        # the disk is shared and its speed moves within a minute: interleave rounds, compare each
        # round's labkit run with that round's best raw writer, and report the median round
        # (best-of-everything would set the best of 6 raw runs against the best of 2 labkit runs)
        raw_dt, unc, lz4, ring_dt = [], [], [], []
        load = [os.getloadavg()[0]]
        rounds = 2 if quick else 3
        for _ in range(rounds):
            clean()
            ring_dt.append(_raw_from_ring(tmp, host, n))
            clean()
            raw_dt.append(_raw(tmp, frames, n))
            clean()  # the same with a flush every ~256 MB (better when the page cache is large)
            raw_dt.append(_raw(tmp, frames, n, sync_every=max(1, int(256e6 // fb))))
            clean()  # and with O_DIRECT, as the labkit zarr writer writes its shards
            raw_dt.append(_raw(tmp, frames, n, o_direct=True))
            clean()
            dt, p, path = _labkit(host, ctl, n, None)
            unc.append((dt, p, _timings(path)))
            clean()
            dt, p, path = _labkit(host, ctl, n, "blosc-lz4")
            lz4.append((dt, p, _timings(path)))
        load.append(os.getloadavg()[0])
        raw_mb_s = mb / min(raw_dt)
        raw_kinds = ["end-only fdatasync", "fdatasync every 256 MB", "O_DIRECT"]
        raw_best = raw_kinds[raw_dt.index(min(raw_dt)) % 3]
        raw_each = ", ".join(
            f"{k} {mb / min(raw_dt[i::3]):.0f} MB/s" for i, k in enumerate(raw_kinds)
        )
        # per round: (labkit MB/s, that round's best raw MB/s); the median round by ratio
        pairs = sorted(
            ((mb / unc[i][0], mb / min(raw_dt[3 * i : 3 * i + 3])) for i in range(rounds)),
            key=lambda pr: pr[0] / pr[1],
        )
        unc_round_mb_s, raw_round_mb_s = pairs[len(pairs) // 2]
        pair_text = ", ".join(f"{u:.0f}/{r:.0f}" for u, r in pairs)
        dt_unc, p_unc, t_unc = min(unc, key=lambda r: r[0])
        dt_lz4, p_lz4, t_lz4 = min(lz4, key=lambda r: r[0])
        unc_mb_s, unc_fps = mb / dt_unc, n / dt_unc
        lz4_fps = n / dt_lz4
        ratio = (n * fb) / max(1, p_lz4.mb_written * 1e6)
        clean()
        tif_mb_s = mb / _tifffile(tmp, frames, n)
        clean()
        zp_mb_s = (
            mb
            / _zarr_python(tmp, frames, min(n, 64 if quick else 128), per_shard)
            * min(n, 64 if quick else 128)
            / n
        )
        clean()
        ts_mb_s = mb / _tensorstore(tmp, frames, n, per_shard)
        clean()
        note = (
            f"{n} frames 2048² u16 ({mb / 1e3:.2f} GB), fsync; best of {rounds} interleaved rounds and "
            f"of 3 raw writers ({raw_each}; best: {raw_best}); load average "
            f"{load[0]:.1f}→{load[1]:.1f}"
        )
        results += [
            BenchResult("spool raw sequential write+fsync", raw_mb_s, "MB/s", note=note),
            BenchResult(
                "spool labkit uncompressed",
                unc_round_mb_s,
                "MB/s",
                "raw write+fsync, same round",
                raw_round_mb_s,
                goal=0.9,
                note=(
                    f"median of {rounds} rounds, each labkit/best raw writer of that round "
                    f"(MB/s: {pair_text}); best labkit run {unc_mb_s:.0f} vs best raw run "
                    f"{raw_mb_s:.0f} = {unc_mb_s / raw_mb_s:.2f}×; dropped {p_unc.frames_dropped}; "
                    f"{dt_unc:.2f} s: {t_unc}"
                ),
            ),
            BenchResult(
                "spool labkit uncompressed vs raw from the ring's slots",
                unc_mb_s,
                "MB/s",
                "raw O_DIRECT write of the ring slots",
                mb / min(ring_dt),
                note="same source memory (shared memory, 4 KiB pages) as labkit's direct mode",
            ),
            BenchResult(
                "spool labkit blosc-lz4 frame rate",
                lz4_fps,
                "fps",
                "labkit uncompressed fps",
                unc_fps,
                goal=1.6,
                note=f"ratio {ratio:.2f}, dropped {p_lz4.frames_dropped}; {dt_lz4:.2f} s: {t_lz4}",
            ),
            BenchResult(
                "spool labkit blosc-lz4 vs zarr-python",
                lz4_fps * fb / 1e6,
                "MB/s",
                "zarr-python lz4 sharded",
                zp_mb_s,
            ),
            BenchResult(
                "spool labkit blosc-lz4 vs tensorstore",
                lz4_fps * fb / 1e6,
                "MB/s",
                "tensorstore lz4 sharded",
                ts_mb_s,
            ),
            BenchResult(
                "spool labkit uncompressed vs tifffile",
                unc_mb_s,
                "MB/s",
                "tifffile bigtiff contiguous",
                tif_mb_s,
            ),
        ]
        # highest paced camera rate with zero dropped frames (lz4), beside what the preflight
        # accepts. The shared disk's speed moves from one minute to the next, so each preflight
        # is followed at once by a series at the rate it accepted (what a user does), then a
        # ladder of paced rates finds the highest that dropped nothing.
        from labkit.spool._blocks import Compressor
        from labkit.spool._layout import Layout
        from labkit.spool._preflight import run_preflight

        codec = Compressor({"codec": "blosc-lz4", "level": 5, "shuffle": True})
        trial_s = 1.5 if quick else 3.0
        held, tried = [], []
        best = 0.0

        def trial(rate: float) -> int:
            clean()
            _, p, _ = _labkit(host, ctl, max(8, int(rate * trial_s)), "blosc-lz4", rate_hz=rate)
            return p.frames_dropped

        n_trials = 3 if quick else 5
        for _ in range(n_trials):
            clean()
            layout = Layout.plan(SHAPE, "uint16", 100.0, 0, 1, None, 1.0, 64)
            n_buf = host.ring.n_slots + 4 * layout.slots_per_shard  # the controller's defaults
            report = run_preflight(
                tmp, frames[0], codec, 100.0, None, 2, True, buffer_frames=n_buf, o_direct=True
            )
            acc = round(report.measured["accepted_rate_hz"], 1)
            dropped = trial(acc)
            held.append((acc, dropped, os.getloadavg()[0]))
            if dropped == 0:
                best = max(best, acc)
        accepted = max(a for a, _, _ in held)
        ladder = sorted(
            {round(r, 1) for r in (lz4_fps * 0.5, lz4_fps * 0.8, lz4_fps, accepted * 0.8)}
        )
        for rate in ladder:
            dropped = trial(rate)
            tried.append((rate, dropped))
            if dropped == 0:
                best = max(best, rate)
        clean()
        fmt = ", ".join(f"{r:.0f} fps: {d} dropped (load {ld:.1f})" for r, d, ld in held)
        results.append(
            BenchResult(
                "spool drop-free series at the preflight-accepted rate (lz4)",
                sum(d == 0 for _, d, _ in held),
                "series",
                "series run",
                n_trials,
                goal=1.0,
                note=f"each right after its own preflight, {trial_s:g} s: {fmt}",
            )
        )
        results.append(
            BenchResult(
                "spool max camera rate with 0 drops (lz4)",
                best,
                "fps",
                "preflight-accepted rate",
                accepted,
                goal=1.0,
                note=(
                    f"ring {host.ring.n_slots} slots, {trial_s:g} s series; right after each "
                    f"preflight at its accepted rate: {fmt}; ladder: "
                    + ", ".join(f"{r:.0f}:{d}" for r, d in tried)
                ),
            )
        )
    finally:
        host.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return results
