"""``labkit bench remote``: frames from a remote engine over loopback TCP+CURVE, and its live view.

A ``labkit engine`` process on ``tcp://127.0.0.1`` streams a 2048² uint16 sim camera set to 100
fps (it renders what the machine allows; its rate is in the notes, and it runs during the raw
measurements too, so both share the same CPU); this process connects with
``lk.connect(streams="network")`` and counts the distinct frames that arrive per second, without
compression and with lz4. Beside it, in the same run: raw pyzmq over the same transport, a PUSH
socket sending 8 MiB frames zero-copy (HWM 4) to a PULL socket in another context (each end its
own libzmq I/O thread, as two processes have), over TCP+CURVE (the baseline, measured before and
after) and plain TCP (goal: remote ≥ 0.8× raw TCP+CURVE). Then the remote live view in a real
Voila page (headless Chromium): painted fps of a LiveView of the remote scope with lz4 (goal ≥ 30
at 2048²). Each figure's note carries the machine's load average.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from labkit.bench._report import BenchResult
from labkit.testing import serve_engine

__all__ = ["bench_remote_view", "run"]

SIZE = 2048
CODECS = ("none", "lz4")
RAW = "raw pyzmq PUSH→PULL of the same 8 MiB frames (a context each), same transport, same run"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} cores"


def _remote_fps(connection_file: str, codec: str, seconds: float) -> tuple[float, float]:
    """Distinct frames per second arriving from the remote engine, and the camera's fps."""
    import labkit as lk

    with (
        lk.connect(connection_file, streams="network", codec=codec) as scope,
        scope.open_reader(name=f"bench-{codec}") as reader,
    ):
        deadline = time.monotonic() + 30
        while reader.frames_received < 3 and time.monotonic() < deadline:
            reader.wait(0.5)  # warm up: connection, first frames
        n0, a0, t0 = reader.frames_received, scope.health().frames_acquired, time.monotonic()
        time.sleep(seconds)
        n1, a1, t1 = reader.frames_received, scope.health().frames_acquired, time.monotonic()
    return (n1 - n0) / (t1 - t0), (a1 - a0) / (t1 - t0)


def _raw_fps(curve: bool, seconds: float) -> float:
    """8 MiB frames per second from a PUSH to a PULL socket over loopback TCP (+CURVE), each in
    its own context (one libzmq I/O thread each, as in two processes)."""
    # two contexts: each end has its own libzmq I/O thread, as the engine and a client do
    send_ctx, recv_ctx = zmq.Context(), zmq.Context()
    push, pull = send_ctx.socket(zmq.PUSH), recv_ctx.socket(zmq.PULL)
    try:
        if curve:
            server_public, server_secret = zmq.curve_keypair()
            client_public, client_secret = zmq.curve_keypair()
            push.curve_server = True
            push.curve_secretkey, push.curve_publickey = server_secret, server_public
            pull.curve_serverkey = server_public
            pull.curve_publickey, pull.curve_secretkey = client_public, client_secret
        for s in (push, pull):
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, 4)
            s.setsockopt(zmq.RCVHWM, 4)
        port = push.bind_to_random_port("tcp://127.0.0.1")
        pull.connect(f"tcp://127.0.0.1:{port}")
        frame = np.random.default_rng(0).poisson(100, (SIZE, SIZE)).astype(np.uint16)
        stop = threading.Event()

        def send() -> None:
            while not stop.is_set():
                try:
                    push.send(frame.copy().data, zmq.NOBLOCK, copy=False)  # a fresh buffer
                except zmq.Again:  # per frame, as a ring slot is copied out per frame
                    time.sleep(0.0005)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        for _ in range(3):
            pull.recv(copy=False)
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            msg = pull.recv(copy=False)
            np.frombuffer(msg.buffer, np.uint16).reshape(SIZE, SIZE).copy()  # as the client does
            n += 1
        dt = time.monotonic() - t0
        stop.set()
        while sender.is_alive():
            try:
                pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                time.sleep(0.001)
        return n / dt
    finally:
        push.close(0)
        pull.close(0)
        send_ctx.term()
        recv_ctx.term()


def bench_remote_view(connection_file: str, codec: str = "lz4") -> tuple[Any, Any]:
    """In the kernel: a remote scope (over the network) streaming, and its LiveView."""
    import labkit as lk
    from labkit.widgets import LiveView

    scope = lk.connect(connection_file, streams="network", codec=codec)
    return LiveView(scope, width_px=640), scope


def _voila_fps(connection_file: str, root: Path, quick: bool) -> dict:
    from playwright.sync_api import sync_playwright

    from labkit.bench._live import _measure
    from labkit.testing._jupyter import write_notebook
    from labkit.testing._servers import VoilaServer

    server = VoilaServer(root / "voila")
    server.root.mkdir(parents=True, exist_ok=True)
    state = server.root / "remote.state.json"
    write_notebook(
        server.root / "remote.ipynb",
        [
            "from labkit.bench._live import mirror_state\n"
            "from labkit.bench._remote import bench_remote_view\n"
            f"w, scope = bench_remote_view({connection_file!r})\n"
            f"mirror_state(w, scope, {str(state)!r})\nw"
        ],
    )
    server.start(timeout_s=120)
    try:
        with sync_playwright() as pw:
            return _measure(pw, server.render_url("remote.ipynb"), False, state, quick)
    finally:
        server.shutdown_kernels()
        server.stop()


def run(quick: bool = False) -> list[BenchResult]:
    """Remote frames/s without and with lz4 beside raw pyzmq, then the remote live view in Voila."""
    seconds = 3.0 if quick else 8.0
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="labkit-bench-remote-") as tmp:
        runtime = Path(tmp) / "runtime"
        runtime.mkdir(mode=0o700)
        served = serve_engine(runtime, "tcp://127.0.0.1:0", shape=f"{SIZE},{SIZE}")
        connection_file = served.connection_file
        try:
            import labkit as lk

            control = lk.connect(connection_file, streams="shared")
            control.camera.frame_rate_hz = 100
            control.camera.exposure_ms = 5
            control.start()  # the camera renders during every measurement, the raw ones too
            raw_before = _raw_fps(True, seconds)  # before and after: the machine's load moves
            raw_plain = _raw_fps(False, seconds)
            remote = {codec: _remote_fps(connection_file, codec, seconds) for codec in CODECS}
            raw_after = _raw_fps(True, seconds)
            raw_curve = (raw_before + raw_after) / 2
            for codec, (fps, camera_fps) in remote.items():
                results.append(
                    BenchResult(
                        f"remote {SIZE}² frames/s over TCP+CURVE ({codec})",
                        fps,
                        "fps",
                        f"{RAW} (TCP+CURVE)",
                        raw_curve,
                        goal=0.8,
                        note=f"camera rendered {camera_fps:.0f} fps meanwhile; raw TCP+CURVE "
                        f"{raw_before:.1f} before, {raw_after:.1f} after (mean is the baseline), "
                        f"raw plain TCP {raw_plain:.1f} fps; {_load()}",
                    )  # fmt: skip
                )
            view = _voila_fps(connection_file, Path(tmp), quick)
            control.stop()
            control.close()
            results.append(
                BenchResult(
                    f"remote live view painted fps in Voila ({SIZE}², lz4)",
                    view["painted_fps"],
                    "fps",
                    goal=30.0,
                    goal_kind="value",
                    note=f"received {view['received_fps']:.0f} fps, latency p50 "
                    f"{view['latency_ms_p50']} ms, encoding {view['encoding']}; {_load()}",
                )  # fmt: skip
            )
        finally:
            served.stop()
    return results
