"""``labkit engine`` serving over TCP and ``lk.connect`` reaching it (with an HMAC key)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from engine_helpers import Recorder, wait_until

import labkit as lk
from labkit.engine import EngineState
from labkit.engine._serve import main as serve_main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    key = lk.wire.new_key()
    key_file = tmp_path_factory.mktemp("engine") / "key"
    key_file.write_text(key)
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "engine", "--address", "tcp://127.0.0.1:0",
         "--key-file", str(key_file), "--shape", "64,80", "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    assert "serving on tcp://127.0.0.1:" in line, line
    address = line.split("serving on ")[1].split()[0]
    yield address, key, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    proc.stdout.close()


def test_connect_with_key_controls_the_remote_engine(served):
    address, key, proc = served
    with lk.connect(address, key=key) as scope:
        assert scope.mode == "remote"
        assert scope.engine_address == address
        assert scope.status().engine_pid == proc.pid
        rec = Recorder()
        scope.subscribe(rec)
        scope.camera.exposure_ms = 21
        assert scope.camera.exposure_ms == 21
        assert scope.camera.snap().shape == (64, 80)
        scope.start()
        with scope.open_reader(
            "remote-reader"
        ) as reader:  # same machine: the ring is shared memory
            assert reader.next(timeout=5).data.shape == (64, 80)
        scope.stop()
        wait_until(
            lambda: [e for e in rec.topic("state") if e.payload["state"] == "stopped"],
            what="stop event",
        )
        scope.unsubscribe(rec)
    assert proc.poll() is None  # closing a connected scope leaves the engine running
    with lk.connect(address, key=key) as again:
        assert again.camera.exposure_ms == 21
        assert again.state is EngineState.STOPPED


def test_wrong_key_is_refused(served):
    address, _, proc = served
    with pytest.raises(TimeoutError, match="did not answer"):
        lk.connect(address, key=lk.wire.new_key(), timeout_s=1.0)
    with lk.connect(address, key=served[1]) as scope:  # still serving others
        assert scope._call("ping") == "pong"
    assert proc.poll() is None


def test_sigterm_stops_the_server_and_unlinks_its_ring(served):
    address, key, proc = served
    with lk.connect(address, key=key) as scope:
        ring = scope.ring_name
    assert os.path.exists(f"/dev/shm/{ring}")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not os.path.exists(f"/dev/shm/{ring}")


def test_refuses_non_loopback_without_key(capsys):
    assert serve_main(["--address", "tcp://0.0.0.0:45999"]) == 2
    assert "without a key" in capsys.readouterr().err


def test_connect_to_nothing_times_out_cleanly():
    with pytest.raises(TimeoutError, match="did not answer 'hello'"):
        lk.connect("tcp://127.0.0.1:9", timeout_s=0.5)
