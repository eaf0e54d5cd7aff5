"""A stream link that goes silent while its connection stands is dialled again on a new socket
with a new identity (what a ROUTER that lost the client's identity looks like from the client:
the connection is up, libzmq answers its pings, but no message comes)."""

from __future__ import annotations

import threading

import zmq

from labkit.rpc import ConnectionInfo
from labkit.rpc._stream_client import StreamClient
from labkit.rpc._stream_wire import decode_header, encode_header
from labkit.testing import wait_until


class _Router:
    """A stand-in stream server: records ``(identity, op)`` of what arrives and heartbeats
    every identity it heard from, except the ones in ``lost`` (it keeps receiving from those)."""

    def __init__(self, address: str) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(address)
        self.received: list[tuple[bytes, str]] = []
        self.lost: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-router")
        self._thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop.is_set():
            if poller.poll(20):
                ident, data = self.sock.recv_multipart()
                self.received.append((ident, decode_header(data)["op"]))
            for ident in {i for i, _ in self.received} - self.lost:
                self.sock.send_multipart([ident, encode_header({"op": "hb", "subs": {}})])

    def idents(self, op: str) -> list[bytes]:
        return [i for i, o in list(self.received) if o == op]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        self.ctx.term()


def test_a_link_silent_while_connected_is_dialled_again_with_a_new_identity(tmp_path):
    address = f"ipc://{tmp_path}/streams.sock"
    router = _Router(address)
    states: list[str] = []
    client = StreamClient(
        ConnectionInfo(kind="streams", address=address),
        name="viewer",
        on_link=states.append,
        ping_s=0.1,
        timeout_s=2.0,
    )
    try:
        wait_until(lambda: client.link_state == "up", what="the link up")
        (first,) = router.idents("hello")
        router.lost.add(first)  # the server loses this identity; the connection stands
        wait_until(
            lambda: client.redials >= 1 and client.link_state == "up",
            what="the link down, dialled again, and up",
        )
        assert states[:3] == ["up", "down", "up"]
        hellos = router.idents("hello")
        assert len(hellos) >= 2 and first not in hellos[1:]  # a new identity said hello
        assert first in router.idents("bye")  # the old one said goodbye on its way out
    finally:
        client.close()
        router.close()
