"""RPC benchmark: property-set round trips through a Scope, beside raw pyzmq REQ/REP round trips.

Thread mode is compared with a REQ/REP echo between two threads over ``inproc://``; process mode with
an echo server in a child process over ``ipc://`` (the transport the process engine uses). The
``stalled peer`` figures: calls to a server in a child process that publishes 64 KB events, while a
subscriber stops reading, beside the same calls with no stalled subscriber (goal: p99 ≤ 50 ms).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import zmq

from labkit.bench._report import BenchResult
from labkit.engine import Scope

_ECHO = """
import sys, zmq
ctx = zmq.Context(); s = ctx.socket(zmq.REP); s.bind(sys.argv[1])
while True:
    m = s.recv()
    s.send(m)
    if m == b"quit":
        break
s.close(); ctx.term()
"""

_MESSAGE = b"x" * 64  # about the size of an encoded set_property request


def _percentiles(samples_s: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples_s) * 1e6
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _raw_round_trips(address: str, n: int, ctx: zmq.Context) -> list[float]:
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    try:
        for _ in range(min(200, n)):  # warm up
            sock.send(_MESSAGE)
            sock.recv()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            sock.send(_MESSAGE)
            sock.recv()
            times.append(time.perf_counter() - t0)
        sock.send(b"quit")
        sock.recv()
        return times
    finally:
        sock.close()


def _raw_inproc(n: int) -> list[float]:
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.bind("inproc://labkit-bench-echo")

    def echo() -> None:
        while True:
            m = rep.recv()
            rep.send(m)
            if m == b"quit":
                return

    thread = threading.Thread(target=echo, name="labkit-bench-echo", daemon=True)
    thread.start()
    try:
        return _raw_round_trips("inproc://labkit-bench-echo", n, ctx)
    finally:
        thread.join(5)
        rep.close()
        ctx.term()


def _raw_ipc(n: int) -> list[float]:
    tmp = tempfile.mkdtemp(prefix="labkit-bench-")
    address = f"ipc://{tmp}/echo.sock"
    proc = subprocess.Popen([sys.executable, "-c", _ECHO, address])
    ctx = zmq.Context()
    try:
        return _raw_round_trips(address, n, ctx)
    finally:
        ctx.term()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def _scope_round_trips(scope: Scope, n: int) -> tuple[list[float], float]:
    cam = scope.camera
    for i in range(min(200, n)):  # warm up
        cam.exposure_ms = 10 + (i % 5)
    times = []
    t_all = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        cam.exposure_ms = 10 + (i % 5)
        times.append(time.perf_counter() - t0)
    return times, n / (time.perf_counter() - t_all)


def _startup_and_death() -> tuple[float, float, float]:
    """Seconds to a ready process engine, to notice it killed, and for a bare interpreter start."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy, zmq"], check=True)
    bare_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with Scope(mode="process", shape=(256, 256), ring_slots=8) as scope:
        start_s = time.perf_counter() - t0
        pid = scope.status().engine_pid
        assert pid is not None
        t_kill = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        while scope.state != "failed" and time.perf_counter() - t_kill < 10:
            time.sleep(0.0005)
        death_s = time.perf_counter() - t_kill
    return start_s, death_s, bare_s


_PUBLISHER = """
import sys, threading, numpy as np
from labkit.rpc import RpcServer
server = RpcServer(sys.argv[1], kind="bench", dispatch=lambda m, p, c: "pong", stop_after=("quit",))
blob = np.zeros(64 * 1024, np.uint8)
stop = threading.Event()
def pump():
    while not stop.wait(0.002):
        server.publish("blob", {"b": blob})
threading.Thread(target=pump, daemon=True).start()
server.serve(ready=lambda address: print(address, flush=True))
stop.set()
"""


def _stalled_peer(n: int) -> list[BenchResult]:
    """Call latency while another subscriber has stopped reading, beside none stalled."""
    from labkit.rpc import RpcClient
    from labkit.wire import Request, encode

    tmp = tempfile.mkdtemp(prefix="labkit-bench-")
    os.chmod(tmp, 0o700)
    proc = subprocess.Popen(
        [sys.executable, "-c", _PUBLISHER, f"ipc://{tmp}/pub.sock"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    ctx = zmq.Context()
    stalled = ctx.socket(zmq.DEALER)
    stalled.setsockopt(zmq.LINGER, 0)
    stalled.setsockopt(zmq.RCVHWM, 1)
    try:
        with RpcClient(address) as client:

            def calls(method: str) -> list[float]:
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    client.call(method, {}, 30.0)
                    times.append(time.perf_counter() - t0)
                return times

            idle = {m: calls(m) for m in ("echo", "rpc.ping")}
            stalled.connect(address)  # subscribes, then never reads again
            stalled.send_multipart(
                encode(Request(id=1, method="rpc.hello", params={"subscribe": True}))
            )
            time.sleep(1.0)  # let its backlog fill (64 KB events every 2 ms)
            busy = {m: calls(m) for m in ("echo", "rpc.ping")}
            client.call("quit", {}, 30.0)
        proc.wait(30)
    finally:
        stalled.close(0)
        ctx.term()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        shutil.rmtree(tmp, ignore_errors=True)
    results = []
    for method, label in (("echo", "call"), ("rpc.ping", "ping")):
        _, idle_p99 = _percentiles(idle[method])
        _, busy_p99 = _percentiles(busy[method])
        results.append(BenchResult(
            f"rpc.stalled_peer.{label}.p99", busy_p99 / 1e3, "ms", "same calls, no stalled peer p99",
            idle_p99 / 1e3, higher_is_better=False, goal=50.0, goal_kind="value",
            note="a subscriber stopped reading while the server publishes 64 KB events every 2 ms",
        ))  # fmt: skip
    return results


def run(quick: bool = False) -> list[BenchResult]:
    """Property set p50/p99 and calls/s in thread and process mode, each beside raw pyzmq."""
    n = 500 if quick else 5000
    results: list[BenchResult] = []
    for mode, goal_us, raw in (("thread", 100.0, _raw_inproc), ("process", 300.0, _raw_ipc)):
        transport = "inproc, 2 threads" if mode == "thread" else "ipc, 2 processes"
        raw_p50, raw_p99 = _percentiles(raw(n))
        with Scope(mode=mode, shape=(256, 256), ring_slots=8) as scope:
            times, calls_s = _scope_round_trips(scope, n)
        p50, p99 = _percentiles(times)
        if not quick:  # the same while the engine streams full 2048² frames at 30 fps
            with Scope(mode=mode, ring_slots=16) as scope:
                scope.start()
                busy, _ = _scope_round_trips(scope, 1000)
            busy_p50, busy_p99 = _percentiles(busy)
            results += [
                BenchResult(f"rpc.{mode}.set_property.streaming.p50", busy_p50, "µs", "idle p50 (same mode)",
                            p50, higher_is_better=False, note="while streaming 2048² uint16 at 30 fps"),
                BenchResult(f"rpc.{mode}.set_property.streaming.p99", busy_p99, "µs", "idle p99 (same mode)",
                            p99, higher_is_better=False, note="while streaming 2048² uint16 at 30 fps"),
            ]  # fmt: skip
        base = f"raw pyzmq REQ/REP {len(_MESSAGE)} B ({transport})"
        results += [
            BenchResult(f"rpc.{mode}.set_property.p50", p50, "µs", base + " p50", raw_p50,
                        higher_is_better=False, goal=goal_us, goal_kind="value"),
            BenchResult(f"rpc.{mode}.set_property.p99", p99, "µs", base + " p99", raw_p99,
                        higher_is_better=False),
            BenchResult(f"rpc.{mode}.calls_per_s", calls_s, "calls/s", base + " round trips/s",
                        1e6 / raw_p50 if raw_p50 else None, higher_is_better=True,
                        note="validated set + property event + reply"),
        ]  # fmt: skip
    results += _stalled_peer(300 if quick else 3000)
    start_s, death_s, bare_s = _startup_and_death()
    results += [
        BenchResult("engine.process.start_s", start_s, "s", "python -c 'import numpy, zmq'", bare_s,
                    higher_is_better=False, note="Scope(mode='process') until ready"),
        BenchResult("engine.process.death_detect_ms", death_s * 1e3, "ms", "requirement", 1000.0,
                    higher_is_better=False, goal=1000.0, goal_kind="value", note="kill -9 -> state 'failed'"),
    ]  # fmt: skip
    return results
