"""``labkit bench ring``: the shared-memory frame ring across processes, beside its baselines.

2048×2048 uint16 frames (8 MiB) are written in this process and read (copied out) in a
spawned child. Baselines, measured in the same run with the same frames:

- bandwidth: ``np.copyto`` of the same frames in one process (memcpy speed);
- frames/s: ``multiprocessing.Queue`` carrying the frames (pickled through a pipe), and
  ZeroMQ PUSH/PULL over ipc sending the raw frame with ``copy=False``;
- notify latency (write → reader awake in another process): a ZeroMQ PUSH/PULL wake-up.

Only names and numbers cross to the children (JSON over a pipe); the Queue baseline is the
one place frames travel through a Queue, as the thing being compared against.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import random
import shutil
import struct
import tempfile
import time

import numpy as np

from labkit.bench._report import BenchResult
from labkit.buffers import FrameRing, RingReader

__all__ = ["run"]

SHAPE = (2048, 2048)
DTYPE = np.uint16
N_SLOTS = 4  # 32 MiB: the same cache budget as the copyto baseline (3 sources + 1 target)
N_SLOTS_LARGE = 32  # 256 MiB: every frame comes from DRAM, as in a long engine ring
_SOURCES = 3  # distinct source frames cycled by the writers
_WAIT_S = 60.0


# --- children (module level so the spawn context can import them) --------------------------
def _child_ring_reader(ring_name: str, duration_s: float, conn) -> None:
    with RingReader.attach(ring_name, "bench") as reader:
        out = np.empty(reader.ring.shape, reader.ring.dtype)
        conn.send_bytes(b"ready")
        reader.next(timeout=_WAIT_S, out=out)
        frames, t0 = 0, time.perf_counter()
        while (now := time.perf_counter()) - t0 < duration_s:
            reader.next(timeout=_WAIT_S, out=out)
            frames += 1
        conn.send_bytes(
            json.dumps({"frames": frames, "seconds": now - t0, "lost": reader.frames_lost}).encode()
        )


def _child_queue_reader(frames_queue, duration_s: float, conn) -> None:
    conn.send_bytes(b"ready")
    frames_queue.get(timeout=_WAIT_S)
    frames, t0 = 0, time.perf_counter()
    while (now := time.perf_counter()) - t0 < duration_s:
        frames_queue.get(timeout=_WAIT_S)
        frames += 1
    conn.send_bytes(json.dumps({"frames": frames, "seconds": now - t0}).encode())
    while frames_queue.get(timeout=_WAIT_S) is not None:  # drain until the end marker
        pass


def _child_zmq_reader(address: str, duration_s: float, conn) -> None:
    import zmq

    with zmq.Context() as ctx, ctx.socket(zmq.PULL) as sock:
        sock.setsockopt(zmq.RCVHWM, 4)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(address)
        conn.send_bytes(b"ready")
        sock.recv(copy=False)
        frames, t0 = 0, time.perf_counter()
        while (now := time.perf_counter()) - t0 < duration_s:
            msg = sock.recv(copy=False)
            np.frombuffer(msg.buffer, DTYPE)  # the received frame, usable as an array
            frames += 1
        conn.send_bytes(json.dumps({"frames": frames, "seconds": now - t0}).encode())
        sock.setsockopt(zmq.RCVTIMEO, int(_WAIT_S * 1000))
        while len(sock.recv(copy=False)):  # drain until the empty end marker
            pass


def _child_ring_latency(ring_name: str, n: int, conn) -> None:
    with RingReader.attach(ring_name, "latency") as reader:
        conn.send_bytes(b"ready")
        latencies: list[float] = []
        index = -1
        while (
            index < n - 1
        ):  # until the last frame (frames lost under load are counted, not awaited)
            frame = reader.next(timeout=_WAIT_S)
            latencies.append(time.perf_counter() - frame.timestamp_s)  # perf_counter is system-wide
            index = frame.index
        conn.send_bytes(json.dumps({"latencies_s": latencies, "lost": reader.frames_lost}).encode())


def _child_zmq_latency(address: str, n: int, conn) -> None:
    import zmq

    with zmq.Context() as ctx, ctx.socket(zmq.PULL) as sock:
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(address)
        conn.send_bytes(b"ready")
        latencies = []
        for _ in range(n):
            (sent,) = struct.unpack("d", sock.recv())
            latencies.append(time.perf_counter() - sent)
        conn.send_bytes(json.dumps({"latencies_s": latencies}).encode())


# --- parent side ---------------------------------------------------------------------------
class _Child:
    """A spawned child with a JSON pipe; always joined (killed after a timeout) on exit."""

    def __init__(self, target, *args) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(target=target, args=(*args, child_conn), daemon=True)
        self.proc.start()
        child_conn.close()

    def wait_ready(self) -> None:
        if not self.conn.poll(_WAIT_S) or self.conn.recv_bytes() != b"ready":
            raise RuntimeError("benchmark child process did not start")

    def done(self) -> bool:
        return self.conn.poll(0)

    def result(self) -> dict:
        if not self.conn.poll(_WAIT_S):
            raise RuntimeError("benchmark child process did not report")
        return json.loads(self.conn.recv_bytes())

    def __enter__(self) -> _Child:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _sources() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.poisson(100, SHAPE).astype(DTYPE) for _ in range(_SOURCES)]


def _copyto_bandwidth(sources: list[np.ndarray], duration_s: float) -> float:
    dst = np.empty(SHAPE, DTYPE)
    np.copyto(dst, sources[0])
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < duration_s:
        np.copyto(dst, sources[n % len(sources)])
        n += 1
    return n * dst.nbytes / (time.perf_counter() - t0)


def _write_bandwidth(sources: list[np.ndarray], duration_s: float) -> float:
    """``ring.write()`` alone in this process (no reader): the cost of the shared-memory side."""
    with FrameRing.create(SHAPE, DTYPE, n_slots=N_SLOTS) as ring:
        for _ in range(N_SLOTS):
            ring.write(sources[0])
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < duration_s:
            ring.write(sources[n % len(sources)])
            n += 1
        return n * ring.frame_nbytes / (time.perf_counter() - t0)


def _ring_throughput(sources: list[np.ndarray], duration_s: float, n_slots: int) -> dict:
    with (
        FrameRing.create(SHAPE, DTYPE, n_slots=n_slots) as ring,
        _Child(_child_ring_reader, ring.name, duration_s) as child,
    ):
        for _ in range(n_slots):  # touch every slot once before timing
            ring.write(sources[0])
        child.wait_ready()
        i = 0
        while not child.done():
            # lossless like the Queue/zmq baselines: never overwrite a frame the reader has not read
            if not ring.wait_for_readers(max_lag=n_slots - 2, timeout=0.05):
                continue
            ring.write(sources[i % len(sources)])
            i += 1
        result = child.result()
        result["written"] = i
        return result


def _queue_throughput(sources: list[np.ndarray], duration_s: float) -> dict:
    ctx = multiprocessing.get_context("spawn")
    frames_queue = ctx.Queue(maxsize=4)
    try:
        with _Child(_child_queue_reader, frames_queue, duration_s) as child:
            child.wait_ready()
            i = 0
            while not child.done():
                with contextlib.suppress(queue.Full):
                    frames_queue.put(sources[i % len(sources)], timeout=0.05)
                    i += 1
            result = child.result()
            frames_queue.put(None, timeout=_WAIT_S)
            return result
    finally:
        frames_queue.close()
        frames_queue.join_thread()


def _zmq_throughput(sources: list[np.ndarray], duration_s: float) -> dict:
    import zmq

    tmp = tempfile.mkdtemp(prefix="labkit-bench-")
    address = f"ipc://{tmp}/frames"
    try:
        with (
            _Child(_child_zmq_reader, address, duration_s) as child,
            zmq.Context() as ctx,
            ctx.socket(zmq.PUSH) as sock,
        ):
            sock.setsockopt(zmq.SNDHWM, 4)
            sock.setsockopt(zmq.SNDTIMEO, 50)
            sock.setsockopt(zmq.LINGER, 0)
            child.wait_ready()
            sock.connect(address)
            i = 0
            while not child.done():
                with contextlib.suppress(zmq.Again):
                    sock.send(sources[i % len(sources)].data, copy=False)
                    i += 1
            result = child.result()
            sock.setsockopt(zmq.SNDTIMEO, int(_WAIT_S * 1000))
            sock.setsockopt(
                zmq.LINGER, int(_WAIT_S * 1000)
            )  # deliver the end marker before closing
            sock.send(b"")
            return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _pace(rng: random.Random) -> None:
    time.sleep(rng.uniform(0.001, 0.003))  # the reader is asleep when each frame arrives


def _ring_latency(n: int) -> dict:
    rng = random.Random(0)
    small = np.zeros((64, 64), DTYPE)
    with (
        FrameRing.create(small.shape, DTYPE, n_slots=64) as ring,
        _Child(_child_ring_latency, ring.name, n) as child,
    ):
        child.wait_ready()
        for _ in range(n):
            _pace(rng)
            ring.write(small, timestamp_s=time.perf_counter())
        return child.result()


def _zmq_latency(n: int) -> dict:
    import zmq

    rng = random.Random(0)
    tmp = tempfile.mkdtemp(prefix="labkit-bench-")
    address = f"ipc://{tmp}/wake"
    try:
        with (
            _Child(_child_zmq_latency, address, n) as child,
            zmq.Context() as ctx,
            ctx.socket(zmq.PUSH) as sock,
        ):
            sock.setsockopt(zmq.LINGER, 0)
            child.wait_ready()
            sock.connect(address)
            for _ in range(n):
                _pace(rng)
                sock.send(struct.pack("d", time.perf_counter()))
            return child.result()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_cost_us(shape: tuple[int, int], n_frames: int, rounds: int) -> tuple[float, float]:
    """Per-frame cost (µs) of ``next_into`` and of ``next(out=)`` beside it, in one process.

    Bursts of frames are written, then each reader reads them (only the reads are timed); the
    two readers take turns burst by burst so a load change hits both. Medians over bursts.
    """
    n_slots = 8
    burst = n_slots - 1
    src = np.ones(shape, DTYPE)
    cost: dict[str, list[float]] = {"into": [], "next": []}
    with FrameRing.create(shape, DTYPE, n_slots=n_slots) as ring:
        into, by_next = ring.reader("bench-into"), ring.reader("bench-next")
        out_into, out_next = np.empty(shape, DTYPE), np.empty(shape, DTYPE)
        meta = np.zeros((), into.meta_dtype)
        for _ in range(max(1, rounds * n_frames // burst)):
            for _ in range(burst):
                ring.write(src)
            t0 = time.perf_counter()
            for _ in range(burst):
                into.next_into(out_into, meta, timeout=0)
            t1 = time.perf_counter()
            for _ in range(burst):
                by_next.next(timeout=0, out=out_next)
            t2 = time.perf_counter()
            cost["into"].append((t1 - t0) / burst * 1e6)
            cost["next"].append((t2 - t1) / burst * 1e6)
        assert into.frames_lost == by_next.frames_lost == 0
    return _median(cost["into"]), _median(cost["next"])


def _fps(result: dict) -> float:
    return result["frames"] / result["seconds"]


def _pct_ms(latencies_s: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(latencies_s), q) * 1e3)


def _median(values: list[float]) -> float:
    return float(np.median(np.asarray(values)))


def run(quick: bool = False) -> list[BenchResult]:
    """Measure the ring against its baselines (quick: ~15 s, full: ~60 s).

    Throughput is measured in rounds that interleave the ring and its baselines, so a load
    change on a shared machine hits both; each figure is the median over the rounds.
    """
    rounds = 1 if quick else 3
    duration_s = 0.7 if quick else 1.5
    n_wakes = 250 if quick else 1500
    frame_bytes = int(np.prod(SHAPE)) * np.dtype(DTYPE).itemsize
    sources = _sources()
    copy_bw, write_bw, ring_fps, dram_fps, queue_fps, zmq_fps = [], [], [], [], [], []
    lost, written = 0, 0
    for _ in range(rounds):
        copy_bw.append(_copyto_bandwidth(sources, duration_s / 2))
        write_bw.append(_write_bandwidth(sources, duration_s / 2))
        ring = _ring_throughput(sources, duration_s, N_SLOTS)
        ring_fps.append(_fps(ring))
        lost, written = lost + ring["lost"], written + ring["written"]
        queue_fps.append(_fps(_queue_throughput(sources, duration_s)))
        dram = _ring_throughput(sources, duration_s, N_SLOTS_LARGE)
        dram_fps.append(_fps(dram))
        zmq_fps.append(_fps(_zmq_throughput(sources, duration_s)))
    small_into, small_next = _read_cost_us((64, 64), 2000 if quick else 20000, rounds)
    big_into, big_next = _read_cost_us(SHAPE, 50 if quick else 300, rounds)
    ring_lat = _ring_latency(n_wakes)
    zmq_lat = _zmq_latency(n_wakes)
    load = os.getloadavg()[0]

    def note(n_slots: int) -> str:
        return (
            f"{SHAPE[0]}x{SHAPE[1]} uint16, {n_slots} slots, write() here after "
            f"wait_for_readers(max_lag={n_slots - 2}), next(out=) in a spawned process; median of {rounds} round(s); "
            f"lost {lost} of {written}; {os.cpu_count()} CPUs, load {load:.1f}"
        )

    fps = _median(ring_fps)
    copy = _median(copy_bw) / 1e9
    return [
        BenchResult(
            "ring.read_bandwidth",
            fps * frame_bytes / 1e9,
            "GB/s",
            "np.copyto same frames",
            copy,
            goal=0.5,
            note=note(N_SLOTS),
        ),
        BenchResult(
            "ring.write_bandwidth",
            _median(write_bw) / 1e9,
            "GB/s",
            "np.copyto same frames",
            copy,
            note=f"write() into a {N_SLOTS}-slot ring in one process, no reader (shared-memory cost alone)",
        ),
        BenchResult(
            "ring.read_bandwidth_dram",
            _median(dram_fps) * frame_bytes / 1e9,
            "GB/s",
            "np.copyto same frames",
            copy,
            note=note(N_SLOTS_LARGE),
        ),
        BenchResult(
            "ring.fps_vs_queue",
            fps,
            "frames/s",
            "multiprocessing.Queue",
            _median(queue_fps),
            goal=20.0,
            note=note(N_SLOTS),
        ),
        BenchResult(
            "ring.fps_vs_zmq",
            fps,
            "frames/s",
            "zmq PUSH/PULL ipc copy=False",
            _median(zmq_fps),
            goal=3.0,
            note=note(N_SLOTS),
        ),
        BenchResult(
            "ring.next_into_64",
            small_into,
            "us/frame",
            "next(out=) same ring",
            small_next,
            higher_is_better=False,
            note="64x64 uint16, one process, reads of bursts of 7 frames timed (no Frame, dict or view per read)",
        ),
        BenchResult(
            "ring.next_into_2048",
            big_into,
            "us/frame",
            "next(out=) same ring",
            big_next,
            higher_is_better=False,
            note=f"{SHAPE[0]}x{SHAPE[1]} uint16 (copy-bound), one process, bursts of 7 frames",
        ),
        BenchResult(
            "ring.notify_p50",
            _pct_ms(ring_lat["latencies_s"], 50),
            "ms",
            "zmq PUSH/PULL ipc wake p50",
            _pct_ms(zmq_lat["latencies_s"], 50),
            higher_is_better=False,
            note=f"futex wake; from the start of write() to the reader awake in another process; {n_wakes} wakes",
        ),
        BenchResult(
            "ring.notify_p99",
            _pct_ms(ring_lat["latencies_s"], 99),
            "ms",
            "zmq PUSH/PULL ipc wake p99",
            _pct_ms(zmq_lat["latencies_s"], 99),
            higher_is_better=False,
            goal=1.0,
            goal_kind="value",
            note=f"{n_wakes} wakes, lost {ring_lat['lost']}, load {load:.1f}",
        ),
    ]
