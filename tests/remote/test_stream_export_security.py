"""Who the stream export admits: CURVE with the engine's client key only; a web page's ZMTP/1.0
POST, other keys and garbage change nothing, and unknown streams are named."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import zmq

from labkit.buffers import Frame
from labkit.rpc import RpcAuthError, ServerKeys, StreamClient, StreamServer
from labkit.rpc._runtime import new_connection_info
from labkit.rpc._security import configure_client
from labkit.testing import wait_until
from labkit.testing._zmtp1 import smuggled_body

pytestmark = pytest.mark.slow


class Counter:
    """An export source of 8×8 frames whose index counts the calls."""

    kind = "frames"
    channels = ()

    def __init__(self) -> None:
        self.index = -1
        self.closed = False

    def latest_after(self, index):
        self.index += 1
        return Frame(np.full((8, 8), self.index, np.uint16), self.index, time.time(), {})

    def read_new(self):  # pragma: no cover - a frames source
        raise AssertionError

    def describe(self):
        return {"kind": "frames"}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def export():
    keys = ServerKeys.generate()
    sources: list[Counter] = []

    def open_source(stream: str, reader: str) -> Counter:
        if stream != "cam":
            raise LookupError(f"no stream named {stream!r}; streams: cam")
        sources.append(Counter())
        return sources[-1]

    server = StreamServer("tcp://127.0.0.1:0", open_source, keys=keys).start()
    info = server.connection_info()
    yield server, info, sources
    server.stop()


def test_a_smuggled_http_post_is_refused_and_subscribes_nothing(export):
    server, info, sources = export
    port = int(info.address.rsplit(":", 1)[1])
    body = smuggled_body([[b"\x84\xa2op\xa3sub\xa3sid\x01\xa6stream\xa3cam\xa6credit\x40"]])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        wait_until(lambda: server.stats()["connections_refused"] >= 1, 10, "the refusal")
    assert server.stats()["clients"] == 0 and sources == []


def test_other_keys_are_refused_and_the_right_ones_get_frames(export):
    server, info, sources = export
    other = ServerKeys.generate()
    wrong = new_connection_info(
        "streams", info.address, server_key=info.server_key,
        client_public=other.client_public, client_secret=other.client_secret,
    )  # fmt: skip
    client = StreamClient(wrong)
    try:
        with pytest.raises(RpcAuthError, match="refused this client's keys"):
            client.subscribe("cam", timeout_s=10)
    finally:
        client.close()
    # the server counts the refusal on its own thread: the client may have seen it first
    wait_until(lambda: server.stats()["connections_refused"] >= 1, 10, "the server's count")
    assert sources == []
    client = StreamClient(info)
    try:
        with pytest.raises(LookupError, match="streams: cam"):
            client.subscribe("nope")
        sub = client.subscribe("cam", credit=2)
        wait_until(lambda: sub.frames_received >= 5, 10, "frames")
        frame = sub.latest()
        assert frame.data.shape == (8, 8) and int(frame.data[0, 0]) == frame.index
    finally:
        client.close()
    wait_until(lambda: server.stats()["clients"] == 0, 10, "the client's goodbye")
    assert all(s.closed for s in sources)


def test_garbage_from_an_authenticated_client_is_dropped_and_the_server_serves_on(export):
    server, info, sources = export
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    configure_client(sock, info)
    sock.connect(info.address)
    try:
        sock.send(b"\xc1 not msgpack")
        sock.send_multipart([b"\x81\xa2op\xa3sub", b"two frames"])
        sock.send(b"\x81\xa2op\xa4evil")  # an unknown op
        client = StreamClient(info)
        try:
            sub = client.subscribe("cam")
            wait_until(lambda: sub.frames_received >= 3, 10, "frames after the garbage")
        finally:
            client.close()
    finally:
        sock.close(0)
        ctx.term()
