"""``labkit engine`` serving over TCP (CURVE) and ipc, and ``lk.connect`` reaching it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import Recorder, wait_until

import labkit as lk
from labkit.devices import PropertyLimitError
from labkit.engine import EngineDiedError, EngineState
from labkit.engine._serve import main as serve_main
from labkit.rpc import (
    ConnectionFileError,
    RpcAuthError,
    ServerKeys,
    read_connection_file,
    write_connection_file,
)

pytestmark = pytest.mark.slow


def _serve(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str, str]:
    """Start ``labkit engine ARGS``; returns (process, address, connection file)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "labkit.cli", "engine", *args, "--shape", "64,80",
         "--log-level", "WARNING"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    line = proc.stdout.readline()
    assert "serving on " in line, line
    address = line.split("serving on ")[1].split()[0]
    connection_file = line.split("connection file ")[1].split(";")[0]
    return proc, address, connection_file


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    proc.stdout.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    runtime = tmp_path_factory.mktemp("runtime")
    os.chmod(runtime, 0o700)
    proc, address, connection_file = _serve(
        "--address", "tcp://127.0.0.1:0", env={**os.environ, "LABKIT_RUNTIME_DIR": str(runtime)}
    )
    yield address, connection_file, proc
    _stop(proc)


def test_connect_with_the_connection_file_controls_the_remote_engine(served):
    address, connection_file, proc = served
    assert address.startswith("tcp://127.0.0.1:")
    assert os.stat(connection_file).st_mode & 0o777 == 0o600
    assert read_connection_file(connection_file).server_key
    with lk.connect(connection_file) as scope:
        assert scope.mode == "remote"
        assert scope.engine_address == address
        assert scope.status().engine_pid == proc.pid
        rec = Recorder()
        scope.subscribe(rec)
        scope.camera.exposure_ms = 21
        assert scope.camera.exposure_ms == 21
        assert scope.camera.snap().shape == (64, 80)
        scope.start()
        with scope.open_reader(name="remote-reader") as reader:  # same machine: shared memory
            assert reader.next(timeout=5).data.shape == (64, 80)
        scope.stop()
        wait_until(
            lambda: [e for e in rec.topic("state") if e.payload["state"] == "stopped"],
            what="stop event",
        )
        scope.unsubscribe(rec)
    assert proc.poll() is None  # closing a connected scope leaves the engine running
    with lk.connect(address, key=connection_file) as again:  # the address plus its keys
        assert again.camera.exposure_ms == 21
        assert again.state is EngineState.STOPPED


def test_other_keys_are_refused_with_a_clear_error(served, tmp_path):
    address, connection_file, proc = served
    good = read_connection_file(connection_file)
    stranger = ServerKeys.generate()
    forged = write_connection_file(
        tmp_path / "forged.json",
        type(good)(
            kind="engine",
            address=address,
            server_key=good.server_key,
            client_public=stranger.client_public,
            client_secret=stranger.client_secret,
        ),
    )
    with pytest.raises(RpcAuthError, match="refused this client's keys"):
        lk.connect(forged, timeout_s=10.0)
    with lk.connect(connection_file) as scope:  # still serving the right keys
        assert scope._call("ping") == "pong"
    assert proc.poll() is None


def test_a_tcp_address_needs_its_connection_file(served):
    with pytest.raises(ValueError, match="connection file"):
        lk.connect(served[0])


def test_connection_file_readable_by_others_is_refused(served, tmp_path):
    loose = tmp_path / "loose.json"
    loose.write_bytes(Path(served[1]).read_bytes())
    loose.chmod(0o644)
    with pytest.raises(ConnectionFileError, match="chmod 600"):
        lk.connect(loose)
    empty = tmp_path / "empty.json"
    empty.touch(mode=0o600)
    with pytest.raises(ConnectionFileError, match="is empty"):
        lk.connect(empty)


def test_sigterm_stops_the_server_and_unlinks_its_ring_and_files(short_dir):
    runtime = short_dir
    proc, address, connection_file = _serve(env={**os.environ, "LABKIT_RUNTIME_DIR": str(runtime)})
    try:
        assert address.startswith(f"ipc://{runtime}/")  # the default: a private ipc socket
        with lk.connect(connection_file) as scope:
            ring = scope.ring_name
        assert os.path.exists(f"/dev/shm/{ring}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not os.path.exists(f"/dev/shm/{ring}")
        assert not os.path.exists(connection_file)
        assert not os.path.exists(address[len("ipc://") :])
    finally:
        _stop(proc)


def test_connect_without_a_target_finds_the_one_local_engine(tmp_path, monkeypatch):
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(runtime))
    with pytest.raises(ValueError, match="no engine is running"):
        lk.connect()
    proc, address, _ = _serve(env={**os.environ})
    try:
        with lk.connect() as scope:
            assert scope.engine_address == address
    finally:
        _stop(proc)


def test_keys_file_keeps_the_connection_file_valid_across_restarts(tmp_path, monkeypatch):
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(runtime))
    keys = tmp_path / "keys.json"
    proc, _, first = _serve("--address", "tcp://127.0.0.1:0", "--keys-file", str(keys))
    copy = tmp_path / "copy.json"
    copy.write_bytes(Path(first).read_bytes())
    copy.chmod(0o600)
    _stop(proc)
    assert os.stat(keys).st_mode & 0o777 == 0o600
    proc, address, _ = _serve("--address", "tcp://127.0.0.1:0", "--keys-file", str(keys))
    try:
        with lk.connect(address, key=copy) as scope:  # old file, new port: same keys
            assert scope._call("ping") == "pong"
    finally:
        _stop(proc)


def test_bad_options_exit_2_with_a_message(capsys, tmp_path):
    assert serve_main(["--keys-file", str(tmp_path / "k.json")]) == 2
    assert "--keys-file is for TCP" in capsys.readouterr().err
    loose = tmp_path / "loose-keys.json"
    loose.write_text("{}")
    loose.chmod(0o644)
    assert serve_main(["--address", "tcp://127.0.0.1:0", "--keys-file", str(loose)]) == 2
    assert "chmod 600" in capsys.readouterr().err


def test_connect_to_nothing_fails_cleanly(tmp_path):
    with pytest.raises(EngineDiedError, match="nothing answered"):
        lk.connect(f"ipc://{tmp_path}/nobody.sock", timeout_s=0.5)


def test_a_served_rig_runs_actions_commands_and_nodes_for_its_clients(tmp_path, monkeypatch):
    """Remote mode: actions with progress and checked arguments, the commands the engine was
    started with, built-in nodes; code named by a client is refused without --allow-client-code."""
    monkeypatch.setenv("LABKIT_RUNTIME_DIR", str(tmp_path))
    os.chmod(tmp_path, 0o700)
    helpers = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([helpers, os.environ.get("PYTHONPATH", "")])}
    proc, _address, connection_file = _serve(
        "--devices", "engine_helpers:rig", "--command", "engine_helpers:brighten", env=env
    )
    try:
        with lk.connect(connection_file) as scope:
            assert scope.mode == "remote"
            steps = []
            took = scope.devices["magnet"].home(
                speed_mm_s=50, progress=lambda fraction, message: steps.append(fraction)
            )
            assert took > 0 and steps == sorted(steps) and steps[-1] == 1.0
            with pytest.raises(PropertyLimitError, match="above the limit 5 mm"):
                scope.devices["magnet"].call_action("nudge", {"delta_mm": 9})
            before = scope.camera.exposure_ms
            assert scope.commands.brighten(gain=2.0) == pytest.approx(2 * before)
            with pytest.raises(PermissionError, match="does not run code its clients name"):
                scope.nodes.add("engine_helpers:mean_node")
            with pytest.raises(PermissionError):
                scope.commands.add("engine_helpers:brighten", name="again")
            scope.start()
            scope.nodes.add("frame_stats", input="camera2", name="stats2")
            wait_until(
                lambda: scope.traces["stats2"].sizes["time"] >= 3,
                what="frame statistics of camera2 from the served engine",
            )
            rows = scope.traces["stats2"]
            assert list(rows.channel.values) == ["min", "max", "mean", "saturated"]
            assert scope.health().nodes["stats2"]["state"] == "running"
    finally:
        _stop(proc)
