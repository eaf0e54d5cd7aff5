"""Captured TCP traffic cannot be replayed; a long command delays no ping and looks like no death."""

from __future__ import annotations

import socket
import threading

import pytest

import labkit as lk
from labkit.engine._devices import build_devices
from labkit.engine._server import EngineServer
from labkit.testing import wait_until

pytestmark = pytest.mark.slow


class RecordingProxy:
    """A TCP proxy to ``target`` that records every byte the client sent."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sent = bytearray()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        accept = threading.Thread(target=self._accept, name="replay-proxy", daemon=True)
        accept.start()
        self._threads.append(accept)

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection(self.target)
        self._sockets += [client, server]
        for src, dst, record in ((client, server, True), (server, client, False)):
            t = threading.Thread(target=self._pump, args=(src, dst, record), daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, record: bool) -> None:
        try:
            while data := src.recv(65536):
                if record:
                    self.sent += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        for s in self._sockets:
            s.close()
        for t in self._threads:
            t.join(5)


@pytest.fixture
def tcp_engine(runtime):
    server = EngineServer(build_devices(None, shape=(16, 16)), "tcp://127.0.0.1:0", ring_slots=2)
    thread = threading.Thread(target=server.serve, name="engine-replay")
    thread.start()
    yield server
    server.request_stop()
    thread.join(10)


def test_a_replayed_session_is_refused(tcp_engine):
    host, port = tcp_engine.address[len("tcp://") :].rsplit(":", 1)
    proxy = RecordingProxy((host, int(port)))
    try:
        with lk.connect(f"tcp://127.0.0.1:{proxy.port}", key=tcp_engine.rpc.connection_file) as s:
            s.camera.exposure_ms = 5.0  # the captured command
        captured = bytes(proxy.sent)
        assert len(captured) > 200
    finally:
        proxy.close()
    with lk.connect(tcp_engine.rpc.connection_file) as scope:
        scope.camera.exposure_ms = 10.0
        refused = tcp_engine.rpc.stats()["connections_refused"]
        with socket.create_connection((host, int(port))) as raw:  # replay it, byte for byte
            raw.sendall(captured)
            raw.settimeout(30)
            try:
                while raw.recv(65536):  # the server talks CURVE back, then hangs up
                    pass
            except (ConnectionResetError, TimeoutError):
                pass
        wait_until(lambda: tcp_engine.rpc.stats()["connections_refused"] > refused, what="refusal")
        assert scope.camera.exposure_ms == 10.0  # the replayed set_property never ran


def test_a_long_stage_move_delays_no_ping_or_property_read():
    with lk.Scope(mode="process", shape=(16, 16), ring_slots=2) as scope:
        scope.stage.speed_um_s = 1.0
        outcome: dict = {}
        mover = threading.Thread(
            target=lambda: outcome.setdefault(
                "pos", scope.stage.move(z=400, wait=True, timeout_s=600)
            )
        )
        mover.start()
        wait_until(lambda: scope.stage.is_moving(), what="the move to start")
        # answered while the move (400 s at 1 µm/s) is still running on the engine
        for _ in range(20):
            assert scope._call("ping") == "pong"
            assert scope.camera.exposure_ms > 0
            assert scope.health().state.value == "ready"
        assert mover.is_alive() and "pos" not in outcome and scope.stage.is_moving()
        scope.stage.speed_um_s = 100_000.0  # finish the move
        mover.join(30)
        assert outcome["pos"][2] == pytest.approx(400)
