"""The codec over real ZeroMQ sockets (ipc, tcp loopback, inproc) and across processes.

Authentication and delivery are labkit.rpc's (tests/rpc); these check that what the codec makes
travels as frames, zero-copy where it says so.
"""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import zmq

from labkit.wire import (
    ErrorReply,
    RemoteError,
    Reply,
    Request,
    WireDecodeError,
    _codec,
    decode,
    encode,
)


def send(sock, obj, track=False):
    return sock.send_multipart(encode(obj), copy=False, track=track)


def recv_frames(sock):
    return sock.recv_multipart(copy=False)


def recv(sock):
    return decode(recv_frames(sock))


class _Sockets:
    """Makes connected socket pairs and closes them all (linger 0) at teardown."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.sockets: list[zmq.Socket] = []

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.linger = 0
        sock.rcvtimeo = sock.sndtimeo = 5000
        self.sockets.append(sock)
        return sock

    def pair(self, endpoint: str, kind=(zmq.PAIR, zmq.PAIR)):
        server, client = self._socket(kind[0]), self._socket(kind[1])
        if endpoint.endswith(":*"):
            host = endpoint.rsplit(":", 1)[0]
            endpoint = f"{host}:{server.bind_to_random_port(host)}"
        else:
            server.bind(endpoint)
        client.connect(endpoint)
        return server, client

    def close(self) -> None:
        for sock in self.sockets:
            sock.close(linger=0)
        self.ctx.term()


@pytest.fixture
def zmq_sockets():
    sockets = _Sockets()
    yield sockets
    sockets.close()


def _frame(n=256):
    return xr.DataArray(
        np.random.default_rng(0).integers(0, 4096, (n, n), dtype=np.uint16),
        dims=("y", "x"),
        coords={"y": np.arange(n) * 0.65, "x": np.arange(n) * 0.65, "z_um": 12.5},
        name="frame",
        attrs={"exposure_ms": 10.0, "camera": "SimCamera"},
    )


def test_pair_over_ipc_round_trips_a_dataarray(zmq_sockets, tmp_path):
    server, client = zmq_sockets.pair(f"ipc://{tmp_path}/wire.sock")
    da = _frame()
    send(client, Request(id=1, method="show", params={"data": da}))
    request = recv(server)
    assert isinstance(request, Request) and request.method == "show"
    xr.testing.assert_identical(request.params["data"], da)
    assert not request.params["data"].values.flags.writeable  # zero-copy view of the frame


def test_req_rep_over_tcp_loopback_with_split_arrays(zmq_sockets, monkeypatch):
    monkeypatch.setattr(_codec, "MAX_FRAME_BYTES", 4096)
    server, client = zmq_sockets.pair("tcp://127.0.0.1:*", (zmq.REP, zmq.REQ))
    da = _frame(128)  # 32 KiB of pixels -> 8 frames
    send(client, Request(id=5, method="fetch", params={}))
    request = recv(server)
    send(server, Reply(id=request.id, result=da))
    frames = recv_frames(client)
    assert len(frames) > 8
    reply = decode(frames)
    assert reply.id == 5
    xr.testing.assert_identical(reply.result, da)


def test_tracked_zero_copy_send_reports_when_the_array_may_change(zmq_sockets):
    server, client = zmq_sockets.pair("inproc://tracked")
    arr = np.arange(100_000, dtype=np.float64)  # above pyzmq's copy threshold: sent zero-copy
    tracker = send(client, {"a": arr}, track=True)
    received = recv(server)
    assert np.shares_memory(received["a"], arr)  # inproc hands over the very same memory
    assert not tracker.done
    del received
    gc.collect()
    tracker.wait(5)
    assert tracker.done


_ENGINE_CHILD = """
import sys, zmq
from labkit.devices import PropertyLimitError
from labkit.wire import ErrorReply, Reply, decode, encode
ctx = zmq.Context()
sock = ctx.socket(zmq.REP)
sock.linger = 0
sock.connect(sys.argv[1])
request = decode(sock.recv_multipart())
try:
    if request.params["exposure_ms"] > 2000:
        raise PropertyLimitError("exposure_ms=5000 is above the limit 2000 ms; choose [0.01, 2000]")
    sock.send_multipart(encode(Reply(id=request.id, result=None)))
except Exception as exc:
    sock.send_multipart(encode(ErrorReply.from_exception(request.id, exc)))
sock.close()
ctx.term()
"""


def test_error_raised_in_another_process_arrives_as_its_own_class(zmq_sockets, tmp_path):
    from labkit.devices import PropertyLimitError

    sock = zmq_sockets._socket(zmq.REQ)
    sock.bind(f"ipc://{tmp_path}/engine.sock")
    script = tmp_path / "engine_child.py"
    script.write_text(_ENGINE_CHILD)
    child = subprocess.Popen([sys.executable, str(script), f"ipc://{tmp_path}/engine.sock"])
    try:
        send(sock, Request(id=9, method="set", params={"exposure_ms": 5000}))
        reply = recv(sock)
    finally:
        assert child.wait(timeout=30) == 0
    assert isinstance(reply, ErrorReply) and reply.id == 9
    with pytest.raises(PropertyLimitError, match="above the limit 2000 ms") as info:
        reply.raise_()
    assert "engine_child.py" in info.value.remote_traceback  # where it failed, in the child
    assert "raise PropertyLimitError" in info.value.remote_traceback
    assert isinstance(info.value.__cause__, RemoteError)


def test_server_answers_garbage_with_an_error_reply(zmq_sockets):
    server, client = zmq_sockets.pair("tcp://127.0.0.1:*", (zmq.REP, zmq.REQ))
    client.send_multipart([b"\x80\x04\x95garbage", b"more"])
    frames = recv_frames(server)
    with pytest.raises(WireDecodeError) as info:
        decode(frames)
    send(server, ErrorReply.from_exception(0, info.value))
    reply = recv(client)
    assert isinstance(reply, ErrorReply)
    with pytest.raises(WireDecodeError):
        reply.raise_()
