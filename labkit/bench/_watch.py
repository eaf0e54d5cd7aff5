"""``labkit bench watch``: pushing xarray data to a viewer manager, beside raw pyzmq.

A real ``labkit manager`` child process (no page) receives the pushes; the baseline is a child
process with a bare ZeroMQ ROUTER on the same transport that receives the same bytes zero-copy and
answers a short ack (the same round trip a push does: request → work → reply). Figures:

- ``push <size>``: ``replace_data`` of a float64 DataArray of 1 KB / 1 MB / 64 MB (encode, send,
  decode and store in the manager, reply), p50, beside the raw round trip of the same bytes, over
  the default transport (``ipc://`` in the private runtime directory, where arrays of 1 MiB or
  more are lent through shared memory: one copy into a segment the client reuses once the
  manager let go of it, see ``labkit/rpc/_bulk.py``);
- ``push <size> by socket``: the same with shared memory turned off in the client (the bytes go
  through the ipc socket, zero-copy on the sending side), measured in the same loop;
- ``push <size> over TCP+CURVE``: the same to a manager bound to ``tcp://127.0.0.1``, beside a raw
  ROUTER with the same CURVE encryption (goal ≤ 1.3× raw on both transports);
- ``watch push <size>``: an in-place change of one element, detected and pushed by ``maybe_push``
  (exact hash before and after the send + the push);
- ``round trip 1 KB``: p50 of the 1 KB push (goal ≤ 1 ms);
- ``unchanged check 64 MB``: ``maybe_push`` when nothing changed (goal ≤ 2 ms), beside one bare
  xxh3_128 pass over the same bytes;
- ``push <size> vs erlab``: when ``$LABKIT_BENCH_ERLAB_PYTHON`` names a Python with erlab and a Qt
  binding installed (it is not a labkit dependency), the same pushes through erlab's ImageTool
  manager (``replace_data``, Qt offscreen), alternated in one client process with labkit's
  (goal ≥ 3× faster), and with labkit's socket path (``... vs erlab, by socket``).

Every labkit figure comes after two warm-up pushes (the client makes its shared-memory segments
then; later pushes reuse them), no labkit work runs in the background while a baseline is timed,
and the paths measured together run in a rotating order, so none always follows the same one
(erlab's manager renders an image after it acknowledged it, slowing whatever comes next).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
import xarray as xr
import xxhash
import zmq

from labkit.bench._report import BenchResult

__all__ = ["run"]

SIZES = {"1 KB": 1 << 10, "1 MB": 1 << 20, "64 MB": 64 << 20}
TCP_SIZES = {"1 MB": 1 << 20, "64 MB": 64 << 20}

# argv: address, [CURVE server secret]; prints the bound address
_RAW_SERVER = """
import sys, zmq
ctx = zmq.Context(); s = ctx.socket(zmq.ROUTER); s.linger = 0
if len(sys.argv) > 2:
    s.curve_server = True; s.curve_secretkey = sys.argv[2].encode()
    s.curve_publickey = zmq.curve_public(sys.argv[2].encode())
s.bind(sys.argv[1]); print(s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
while True:
    frames = s.recv_multipart(copy=False)
    if frames[1].bytes == b"quit":
        break
    s.send_multipart([frames[0], b"ok"])
s.close(); ctx.term()
"""


_ERLAB_SCRIPT = """
import json, os, statistics, subprocess, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import numpy as np, xarray as xr
import labkit.viewer as lv
from labkit.viewer._client import ManagerClient
from labkit.viewer._target import resolve
os.environ["ITOOL_MANAGER_PORT"] = sys.argv[1]
labkit_target = sys.argv[3]
by_socket = ManagerClient(resolve(labkit_target).entry, shared_memory=False)
proc = subprocess.Popen([sys.executable, "-m", "erlab.interactive.imagetool.manager"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
from erlab.interactive.imagetool import manager as m
t0 = time.time()
while time.time() - t0 < 120 and not m.is_running():
    time.sleep(0.5)
out = {}
try:
    for label, nbytes, reps in json.loads(sys.argv[2]):
        data = xr.DataArray(np.random.default_rng(0).random(nbytes // 8).reshape(-1, 16), dims=("y", "x"))
        m.show_in_manager(data)
        uid = lv.show_in_manager(data, target=labkit_target)["uid"]
        time.sleep(1)
        index = max(m.manager.keys()) if hasattr(m, "manager") else 0
        for _ in range(2):  # warm up: connections, and the two shared-memory segments
            lv.replace_data(uid, data, target=labkit_target); by_socket.request("replace", window=uid, data=data)
        paths = [(lambda: m.replace_data(index, data), []),
                 (lambda: lv.replace_data(uid, data, target=labkit_target), []),
                 (lambda: by_socket.request("replace", window=uid, data=data), [])]
        for rep in range(reps):  # alternate so all see the same machine load, in a rotating
            for push, samples in paths[rep % 3:] + paths[:rep % 3]:  # order: erlab's manager
                t = time.perf_counter(); push(); samples.append(time.perf_counter() - t)  # renders after it acks
        out[label] = [statistics.median(samples) * 1e3 for _, samples in paths]
finally:
    by_socket.close()
    lv.shutdown()
    proc.terminate(); proc.wait(30)
print(json.dumps(out))
"""


def _erlab_p50(sizes: dict[str, int], quick: bool, labkit_target: str) -> dict[str, list[float]]:
    """``{size: [erlab, labkit, labkit by socket]}`` p50 ms of ``replace_data``, measured
    alternately in one process, or {} when ``$LABKIT_BENCH_ERLAB_PYTHON`` is not set."""
    python = os.environ.get("LABKIT_BENCH_ERLAB_PYTHON")
    if not python:
        return {}
    import json
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plan = [(label, n, min(_reps(n, quick), 20)) for label, n in sizes.items()]
    try:
        done = subprocess.run([python, "-c", _ERLAB_SCRIPT, str(port), json.dumps(plan), labkit_target],
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        print(f"[bench] erlab comparison failed: {exc}", file=sys.stderr)
        return {}


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def _reps(size: int, quick: bool) -> int:
    if size >= 32 << 20:
        return 3 if quick else 15
    return 30 if quick else 300


def _recv(sock: zmq.Socket, timeout_s: float = 60.0) -> None:
    if not sock.poll(int(timeout_s * 1000)):
        raise TimeoutError("the raw pyzmq baseline server did not answer")
    sock.recv_multipart(copy=False)


class _RawClient:
    """A DEALER to the raw baseline server (a child process): one zero-copy round trip per call."""

    def __init__(self, address: str, curve: bool) -> None:
        from labkit.rpc import ServerKeys

        keys = ServerKeys.generate() if curve else None
        argv = [address, keys.server_secret] if keys else [address]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _RAW_SERVER, *argv], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        bound = self.proc.stdout.readline().strip()
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        if keys is not None:
            self.sock.curve_serverkey = keys.server_public.encode()
            self.sock.curve_publickey = keys.client_public.encode()
            self.sock.curve_secretkey = keys.client_secret.encode()
        self.sock.connect(bound)

    def round_trip(self, payload: np.ndarray) -> float:
        view = memoryview(payload).cast("B")  # type: ignore[arg-type]
        t0 = time.perf_counter()
        self.sock.send_multipart([b"hdr", view], copy=False)
        _recv(self.sock)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.sock.send_multipart([b"quit"])
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.sock.close()
        self.ctx.term()


def _start_manager(registry_dir: str, *extra: str) -> tuple[subprocess.Popen, Any]:
    from labkit.viewer import Registry

    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "manager", "--no-page", "--no-browser",
         "--registry-dir", registry_dir, "--log-level", "WARNING", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "LABKIT_RUNTIME_DIR": registry_dir},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        entries = [e for e in Registry(registry_dir).entries() if e.pid == proc.pid]
        if entries:
            return proc, entries[0]
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the manager did not start within 30 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _push_p50(
    handle: Any, raw: _RawClient, data: xr.DataArray, reps: int
) -> tuple[float, float, float]:
    """(labkit replace_data p50 ms, the same by socket, raw round trip p50 ms), samples
    alternated under one load."""
    from labkit.viewer._client import ManagerClient

    by_socket = ManagerClient(handle.entry, shared_memory=False)
    try:
        uid = handle.request("show", data=data, name="bench")["uid"]
        for _ in range(2):  # connect and warm up every path (two segments for the default one)
            raw.round_trip(data.values)
            handle.request("replace", window=uid, data=data)
            by_socket.request("replace", window=uid, data=data)
        raw_s: list[float] = []
        push_s: list[float] = []
        socket_s: list[float] = []

        def push(request: Any) -> float:
            t0 = time.perf_counter()
            request("replace", window=uid, data=data)
            return time.perf_counter() - t0

        paths = [
            (lambda: raw.round_trip(data.values), raw_s),
            (lambda: push(handle.request), push_s),
            (lambda: push(by_socket.request), socket_s),
        ]
        for rep in range(reps):  # in a rotating order: none always follows the same one
            for measure, samples in paths[rep % 3 :] + paths[: rep % 3]:
                samples.append(measure())
    finally:
        by_socket.close()
    return _p50(push_s), _p50(socket_s), _p50(raw_s)


def _tcp_curve(registry_dir: str, quick: bool) -> list[BenchResult]:
    """Pushes to a manager on TCP+CURVE beside raw pyzmq with the same encryption."""
    from labkit import viewer as lv

    results = []
    proc, entry = _start_manager(registry_dir, "--address", "tcp://127.0.0.1:0")
    raw = _RawClient("tcp://127.0.0.1:0", curve=True)
    try:
        handle = lv.ManagerHandle(entry, None)
        for label, nbytes in TCP_SIZES.items():
            data = xr.DataArray(np.random.default_rng(0).random(nbytes // 8), dims="x")
            push_ms, _, raw_ms = _push_p50(handle, raw, data, _reps(nbytes, quick))
            results.append(BenchResult(
                f"push {label} over TCP+CURVE (replace_data p50)", push_ms, "ms",
                f"raw pyzmq zero-copy round trip {label}, TCP+CURVE", raw_ms,
                higher_is_better=False, goal=1 / 1.3 if label == "64 MB" else None,
                note="goal: ≤ 1.3× raw" if label == "64 MB" else "",
            ))  # fmt: skip
            handle.request("close", all=True)
    finally:
        lv.shutdown()
        raw.close()
        _stop(proc)
    return results


def run(quick: bool = False) -> list[BenchResult]:
    """Run the suite; see the module docstring for what is measured."""
    from labkit import viewer as lv

    results: list[BenchResult] = []
    registry_dir = tempfile.mkdtemp(prefix="labkit-bench-watch-")  # 0700: the runtime dir
    proc, entry = _start_manager(registry_dir)
    handle = lv.ManagerHandle(entry, 0)
    raw = _RawClient(f"ipc://{registry_dir}/raw.sock", curve=False)
    try:
        for label, nbytes in SIZES.items():
            reps = _reps(nbytes, quick)
            data = xr.DataArray(
                np.random.default_rng(0).random(nbytes // 8), dims="x", name="bench"
            )
            push_ms, socket_ms, raw_ms = _push_p50(handle, raw, data, reps)
            lent = nbytes >= 1 << 20
            results.append(BenchResult(
                f"push {label} (replace_data p50)", push_ms, "ms",
                f"raw pyzmq zero-copy round trip {label}, ipc", raw_ms, higher_is_better=False,
                goal=1 / 1.3 if label == "64 MB" else None,
                note=("shared memory; " if lent else "") + ("goal: ≤ 1.3× raw" if label == "64 MB" else ""),
            ))  # fmt: skip
            if lent:
                results.append(BenchResult(
                    f"push {label} by socket (shared memory off, p50)", socket_ms, "ms",
                    f"raw pyzmq zero-copy round trip {label}, ipc", raw_ms, higher_is_better=False,
                    note="the same loop as the line above",
                ))  # fmt: skip
            if label == "1 KB":
                results.append(BenchResult("round trip 1 KB p50", push_ms, "ms", "raw pyzmq round trip 1 KB, ipc",
                                           raw_ms, higher_is_better=False, goal=1.0, goal_kind="value"))  # fmt: skip
            # watch: in-place change of one element, detected exactly and pushed
            ns = {"x": data.copy(deep=True)}
            lv.watch("x", namespace=ns, poll_interval_s=None, target=handle)
            raw_s, push_s = [], []
            for i in range(reps):
                raw_s.append(raw.round_trip(data.values))
                ns["x"].values[i % ns["x"].size] += 1.0
                t0 = time.perf_counter()
                pushed = lv.maybe_push()
                push_s.append(time.perf_counter() - t0)
                assert pushed == ["x"], pushed
            results.append(BenchResult(
                f"watch push {label} (change → pushed, p50)", _p50(push_s), "ms",
                f"raw pyzmq zero-copy round trip {label}, ipc", _p50(raw_s), higher_is_better=False,
                note="includes the exact hash before and after the send",
            ))  # fmt: skip
            if label == "64 MB":
                check_s, bare_s = [], []
                for _ in range(reps * 4):
                    t0 = time.perf_counter()
                    assert lv.maybe_push() == []
                    check_s.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    hasher = xxhash.xxh3_128()
                    hasher.update(memoryview(ns["x"].values).cast("B"))  # type: ignore[arg-type]
                    hasher.digest()
                    bare_s.append(time.perf_counter() - t0)
                results.append(BenchResult(
                    "unchanged check 64 MB (maybe_push p50)", _p50(check_s), "ms", "bare xxh3_128 of 64 MB",
                    _p50(bare_s), higher_is_better=False, goal=2.0, goal_kind="value",
                ))  # fmt: skip
            lv.watch(stop_all=True, remove=True)
            handle.request("close", all=True)
        erlab = _erlab_p50(SIZES, quick, entry.connection_file)
        for label, (erlab_ms, labkit_ms, socket_ms) in erlab.items():
            results.append(BenchResult(
                f"push {label} vs erlab", labkit_ms, "ms", f"erlab ImageTool manager replace_data {label}",
                erlab_ms, higher_is_better=False, goal=3.0,
                note="erlab 3.28 + PyQt6 offscreen; both replace_data, alternated in one client process",
            ))  # fmt: skip
            if SIZES[label] >= 1 << 20:
                results.append(BenchResult(
                    f"push {label} vs erlab, by socket", socket_ms, "ms",
                    f"erlab ImageTool manager replace_data {label}", erlab_ms, higher_is_better=False,
                    note="labkit with shared memory off, in the same alternation",
                ))  # fmt: skip
    finally:
        lv.shutdown()
        raw.close()
        _stop(proc)
    try:
        results += _tcp_curve(registry_dir, quick)
    finally:
        import shutil

        shutil.rmtree(registry_dir, ignore_errors=True)
    return results


if __name__ == "__main__":  # pragma: no cover
    from labkit.bench._report import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
    os._exit(0)
