"""Process mode: the engine child dying, garbage on its socket, parent death, several scopes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil
import pytest
import zmq
from engine_helpers import Recorder, make_scope, wait_until

from labkit.engine import EngineDiedError, EngineState
from labkit.wire import ErrorReply, Event, Reply, Request, decode, encode

pytestmark = pytest.mark.slow


def _segments_of(pid: int) -> list[str]:
    return [n for n in os.listdir("/dev/shm") if n.startswith(f"labkit-{pid}-")]


def test_kill_9_during_streaming_fails_fast_and_restart_works():
    with make_scope("process") as scope:
        rec = Recorder()
        scope.subscribe(rec)
        scope.stage.speed_um_s = 1  # a 1000 s move: stage.wait() stays pending until the kill
        scope.stage.move(x=1000)
        scope.start()
        reader = scope.open_reader(name="survivor")
        reader.next(timeout=5)
        pid = scope.status().engine_pid
        assert _segments_of(pid)
        outcome: dict = {}

        def pending_call() -> None:
            try:
                scope.stage.wait(timeout_s=60)
            except BaseException as exc:  # noqa: BLE001 - the test inspects it
                outcome["error"] = exc

        caller = threading.Thread(target=pending_call)
        caller.start()
        time.sleep(0.2)  # let the call reach the engine
        os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic()
        while scope.state is not EngineState.FAILED and time.monotonic() - t_kill < 1.0:
            time.sleep(0.005)
        assert scope.state is EngineState.FAILED, "scope not 'failed' within 1 s of kill -9"
        caller.join(5)
        assert isinstance(outcome.get("error"), EngineDiedError)
        assert "restart()" in str(outcome["error"])
        with pytest.raises(EngineDiedError, match="exited with code -9"):
            scope.camera.exposure_ms = 5
        wait_until(lambda: rec.topic("error"), what="an error event")
        assert rec.topic("error")[0].payload["type"] == "EngineDiedError"
        failed = [e.payload for e in rec.topic("state") if e.payload["state"] == "failed"]
        assert "exited with code -9" in failed[0]["reason"]
        assert _segments_of(pid) == []  # swept: the dead engine's ring and trace buffer are gone
        reader.close()
        scope.restart()
        assert scope.state is EngineState.READY
        assert scope.status().engine_pid != pid
        scope.start()
        with scope.open_reader(name="fresh") as fresh:
            assert fresh.next(timeout=5).index >= 0
        scope.unsubscribe(rec)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_close_stops_the_child_and_removes_its_files():
    scope = make_scope("process")
    pid = scope.status().engine_pid
    ipc_path = scope.engine_address.removeprefix("ipc://")
    assert os.path.exists(ipc_path)
    scope.start()
    scope.close()
    assert scope.state is EngineState.CLOSED
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not os.path.exists(os.path.dirname(ipc_path))
    assert _segments_of(pid) == []


@pytest.fixture(scope="module")
def process_scope():
    scope = make_scope("process")
    yield scope
    scope.close()


def _request(sock: zmq.Socket, frames: list) -> object:
    sock.send_multipart(frames)
    assert sock.poll(5000), "the engine did not answer"
    return decode(sock.recv_multipart())


@pytest.mark.parametrize(
    "frames",
    [
        [b"garbage"],
        [b"\x93\x01\x02"],
        [b"", b"", b""],
        encode(Event(topic="state", payload={"state": "running"})),
        encode({"method": "start"}),
    ],
    ids=["bytes", "msgpack-not-ours", "empty-frames", "an-event", "plain-dict"],
)
def test_garbage_gets_error_reply_and_engine_keeps_running(process_scope, frames):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(process_scope.engine_address)
        reply = _request(sock, frames)
        assert isinstance(reply, ErrorReply)
        assert "Wire" in reply.type or "Request" in reply.message
        reply = _request(sock, encode(Request(id=7, method="ping", params={})))
        assert isinstance(reply, Reply) and reply.id == 7 and reply.result == "pong"
    finally:
        sock.close()
        ctx.term()
    assert process_scope.state in (EngineState.READY, EngineState.STOPPED)
    process_scope.camera.exposure_ms = 9  # the scope's own connection is unaffected
    assert process_scope.camera.exposure_ms == 9


def test_oversized_message_is_refused_and_engine_keeps_running(process_scope):
    ctx = zmq.Context()
    big = ctx.socket(zmq.DEALER)
    big.setsockopt(zmq.LINGER, 0)
    try:
        big.connect(process_scope.engine_address)
        big.send(b"\0" * (65 * 2**20))
        assert not big.poll(500), "the engine answered a 65 MB request instead of refusing it"
    finally:
        big.close()
        ctx.term()
    assert process_scope._call("ping") == "pong"


def test_unknown_command_on_raw_socket(process_scope):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(process_scope.engine_address)
        reply = _request(sock, encode(Request(id=3, method="format_disk", params={})))
        assert isinstance(reply, ErrorReply) and reply.id == 3
        assert reply.type.endswith("UnknownCommandError") and "set_property" in reply.message
        reply = _request(sock, encode(Request(id=4, method="set_property", params={"device": 1})))
        assert isinstance(reply, ErrorReply) and reply.type.endswith("CommandError")
    finally:
        sock.close()
        ctx.term()
    assert process_scope._call("ping") == "pong"


def test_two_scopes_at_once(process_scope):
    with make_scope("thread") as other, make_scope("process", shape=(64, 96)) as third:
        names = {process_scope.ring_name, other.ring_name, third.ring_name}
        assert len(names) == 3
        other.camera.exposure_ms = 33
        third.camera.exposure_ms = 44
        assert process_scope.camera.exposure_ms != 33
        assert (other.camera.exposure_ms, third.camera.exposure_ms) == (33, 44)
        assert third.camera.snap().shape == (64, 96)
        other.start()
        third.start()
        with other.open_reader() as r1, third.open_reader() as r2:
            assert r1.next(timeout=5).data.shape != r2.next(timeout=5).data.shape


def test_an_orphaned_engine_removes_only_its_own_directory(short_dir):
    from labkit.engine._serve import remove_engine_dir

    engine_dir = short_dir / "labkit-engine-abc"
    other = short_dir / "data"
    for d in (engine_dir, other):
        d.mkdir()
        (d / "stderr.txt").write_text("kept?")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tempfile, "tempdir", str(short_dir))
        assert not remove_engine_dir(f"ipc://{other}/engine.sock")  # not an engine's directory
        assert not remove_engine_dir("tcp://127.0.0.1:5555")
        assert not remove_engine_dir(None)
        assert remove_engine_dir(f"ipc://{engine_dir}/engine.sock")
    assert not engine_dir.exists() and (other / "stderr.txt").read_text() == "kept?"
    engine_dir.mkdir()  # the same name outside the temporary directory is left alone
    assert not remove_engine_dir(f"ipc://{engine_dir}/engine.sock") and engine_dir.exists()


def test_child_exits_when_parent_dies(short_dir):
    script = (
        "import labkit as lk, time, sys\n"
        "s = lk.Scope(mode='process', shape=(32, 32))\n"
        "print(s.status().engine_pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "TMPDIR": str(short_dir)}  # where the Scope makes its engine's directory
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        child_pid = int(parent.stdout.readline())
        assert psutil.pid_exists(child_pid)
        (engine_dir,) = short_dir.glob("labkit-engine-*")  # its socket and the child's stderr
        parent.kill()
        parent.wait(5)
        deadline = time.monotonic() + 5
        while psutil.pid_exists(child_pid) and time.monotonic() < deadline:
            try:
                if psutil.Process(child_pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        alive = (
            psutil.pid_exists(child_pid)
            and psutil.Process(child_pid).status() != psutil.STATUS_ZOMBIE
        )
        assert not alive, "the engine child outlived its parent"
        wait_until(
            lambda: _segments_of(child_pid) == [], what="the orphaned engine to unlink its ring"
        )
        # the killed parent could not remove the directory it made for the engine: the child did
        assert not engine_dir.exists(), list(engine_dir.iterdir())
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
        parent.stdout.close()
