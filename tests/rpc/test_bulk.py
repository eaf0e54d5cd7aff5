"""Large request buffers through shared memory over ipc (labkit/rpc/_bulk.py), real sockets.

What must hold: the server gets the same bytes, zero-copy and read-only; a segment is written
again only after the server let go of it; segments are 0600, unguessable, unlinked by their one
owner (the client) when it closes or when a call got no answer, and swept when it is killed; TCP
never takes them; the server checks a reference before mapping anything.
"""

from __future__ import annotations

import _posixshmem
import os
import re
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from labkit.buffers import sweep_stale_segments
from labkit.buffers._shm import _owner_gone
from labkit.rpc import RpcClient, RpcTimeoutError
from labkit.rpc._bulk import BulkReceiver
from labkit.testing import wait_until
from labkit.wire import WireDecodeError

MB = 1 << 20


def _mine() -> list[str]:
    """This process's lent segments (``labkit-<pid>-<128-bit token>``)."""
    pattern = re.compile(rf"^labkit-{os.getpid()}-[0-9a-f]{{32}}$")
    return sorted(n for n in os.listdir("/dev/shm") if pattern.match(n))


class Keeper:
    """A dispatch that keeps (or drops) the arrays it is sent, as a viewer manager does."""

    def __init__(self) -> None:
        self.kept: list[np.ndarray] = []

    def __call__(self, method, params, call):
        if method == "keep":
            self.kept.append(params["a"])
            return int(params["a"].nbytes)
        if method == "drop":
            self.kept.clear()
            return None
        if method == "sum":
            return float(params["a"].sum())
        raise LookupError(method)


@pytest.fixture
def keeper():
    return Keeper()


def test_big_buffers_travel_through_shared_memory_zero_copy_and_read_only(make_server, keeper):
    server = make_server(dispatch=keeper, shared_memory=True)
    data = np.random.default_rng(0).random(4 * MB // 8)
    with RpcClient(server.address) as client:
        assert client.hello["shm"] == [MB, 64 * MB]
        assert client.call("keep", {"a": data, "small": np.arange(10)}) == data.nbytes
        (got,) = keeper.kept
        np.testing.assert_array_equal(got, data)
        assert not got.flags.writeable
        (name,) = _mine()
        st = os.stat(f"/dev/shm/{name}")
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
        assert server.stats()["shm_buffers_received"] == 1  # the small array went in the frames
        assert client.shm_stats()["shm_bytes_sent"] == data.nbytes
    assert _mine() == []  # the client unlinked it when it closed
    np.testing.assert_array_equal(got, data)  # the server's mapping outlives the name


def test_a_segment_is_written_again_only_after_the_server_let_go(make_server, keeper):
    server = make_server(dispatch=keeper, shared_memory=True)
    first, second = np.full(MB, 1.0), np.full(MB, 2.0)
    with RpcClient(server.address) as client:
        client.call("keep", {"a": first})
        client.call("keep", {"a": second})  # the first segment is still mapped: a new one
        assert client.shm_stats()["shm_segments_created"] == 2
        assert [float(a[0]) for a in keeper.kept] == [1.0, 2.0]  # nothing changed under them
        client.call("drop")
        for value in (3.0, 4.0, 5.0):  # both are free now: reused, none created
            assert client.call("sum", {"a": np.full(MB, value)}) == value * MB
        assert client.shm_stats()["shm_segments_created"] == 2
        assert server.stats()["shm_buffers_received"] == 5


def test_a_client_that_opts_out_or_a_small_buffer_uses_the_socket(make_server, keeper):
    server = make_server(dispatch=keeper, shared_memory=True)
    with RpcClient(server.address, shared_memory=False) as client:
        assert client.call("sum", {"a": np.ones(MB)}) == MB
        assert client.shm_stats() == {}
    with RpcClient(server.address) as client:
        assert client.call("sum", {"a": np.ones(1000)}) == 1000
    assert server.stats()["shm_buffers_received"] == 0 and _mine() == []


def test_a_server_without_it_offers_nothing_and_refuses_references(make_server, keeper):
    plain = make_server(dispatch=keeper)
    tcp = make_server("tcp://127.0.0.1:0", dispatch=keeper, shared_memory=True)
    with RpcClient(plain.address) as client:
        assert "shm" not in client.hello
        assert client.call("sum", {"a": np.ones(MB)}) == MB  # by socket
    with RpcClient(tcp.connection_file) as client:
        assert "shm" not in client.hello  # never over TCP
        assert client.call("sum", {"a": np.ones(MB)}) == MB
    assert _mine() == []


def test_forged_references_are_refused_and_the_server_keeps_serving(make_server, keeper):
    import zmq

    from labkit.wire import ErrorReply, Request, decode, encode

    server = make_server(dispatch=keeper, shared_memory=True)
    tcp = make_server("tcp://127.0.0.1:0", dispatch=keeper, shared_memory=True)
    with RpcClient(server.address) as client:  # a real segment, lent and then named by hand
        client.call("keep", {"a": np.ones(MB)})
        (name,) = _mine()
        for ref in ({"shm": "labkit-1-" + "0" * 32, "nbytes": MB},  # gone
                    {"shm": "../../etc/passwd", "nbytes": 8},  # not labkit's form
                    {"shm": name, "nbytes": MB, "extra": 1}):  # fmt: skip
            request = Request(id=5, method="sum", params={"a": np.ones(MB)})
            frames = encode(request, offload=lambda view, ref=ref: ref)
            ctx = zmq.Context()
            sock = ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.connect(server.address)
            try:
                sock.send_multipart(frames)
                assert sock.poll(5000)
                reply = decode(sock.recv_multipart())
                assert isinstance(reply, ErrorReply) and reply.id == 0, reply
            finally:
                sock.close()
                ctx.term()
        assert client.call("sum", {"a": np.ones(10)}) == 10  # still serving
    assert server.stats()["garbage_received"] == 3
    with RpcClient(tcp.connection_file) as client:  # TCP: a reference is never resolved
        forged = Request(id=9, method="keep", params={"a": np.ones(MB)})
        client._send(encode(forged, offload=lambda view: {"shm": name, "nbytes": MB}))
        wait_until(lambda: tcp.stats()["garbage_received"] == 1)
        assert client.call("sum", {"a": np.ones(10)}) == 10
    assert len(keeper.kept) == 1 and tcp.stats()["shm_buffers_received"] == 0


def test_the_receiver_checks_a_reference_before_mapping(tmp_path):
    receiver = BulkReceiver(max_bytes=4 * MB)
    name = f"labkit-{os.getpid()}-{'ab' * 16}"
    fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        os.ftruncate(fd, 2 * MB)
        assert receiver.adopt({"shm": name, "nbytes": 2 * MB}).nbytes == 2 * MB
        with pytest.raises(WireDecodeError, match="not the 3145728 declared"):
            receiver.adopt({"shm": name, "nbytes": 3 * MB})  # declared more than it holds
        with pytest.raises(WireDecodeError, match="over the server's limit"):
            receiver.adopt({"shm": name, "nbytes": 8 * MB})
        with pytest.raises(WireDecodeError, match="malformed"):
            receiver.adopt({"shm": name, "nbytes": -1})
        os.fchmod(fd, 0o644)
        with pytest.raises(WireDecodeError, match="not private to this user"):
            receiver.adopt({"shm": name, "nbytes": MB})
    finally:
        os.close(fd)
        _posixshmem.shm_unlink("/" + name)
    with pytest.raises(WireDecodeError, match="cannot be opened"):
        receiver.adopt({"shm": name, "nbytes": MB})


def test_segments_of_an_unanswered_call_are_unlinked_at_once(make_server, dispatch):
    server = make_server(shared_memory=True)
    with RpcClient(server.address) as client:
        with pytest.raises(RpcTimeoutError):
            client.call("block", {"a": np.ones(MB)}, timeout_s=0.5)
        assert _mine() == []  # the server may never open it: not kept for reuse
        dispatch.release.set()


KILLED_CLIENT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from labkit.rpc import RpcClient
    client = RpcClient(sys.argv[1])
    client.call("keep", {"a": np.full(1 << 20, 7.0)})
    print(client.shm_stats()["shm_segments"], flush=True)
    os.kill(os.getpid(), 9)
    """
)


def test_a_killed_client_leaves_a_segment_the_sweep_removes_while_the_server_reads_it(
    make_server, keeper
):
    server = make_server(dispatch=keeper, shared_memory=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_CLIENT, server.address], stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -9 and out.strip() == "1"
    pattern = re.compile(rf"^labkit-{proc.pid}-[0-9a-f]{{32}}$")
    # its owner lock died with it, so a sweep removes the name: this one, or one of any labkit
    # process that creates a ring (a parallel pytest worker may get there first)
    left = [n for n in os.listdir("/dev/shm") if pattern.match(n)]
    assert len(left) <= 1
    for name in left:  # judged stale (or already swept by that other process)
        assert _owner_gone(name) or not os.path.exists(f"/dev/shm/{name}")
    sweep_stale_segments()
    assert not [n for n in os.listdir("/dev/shm") if pattern.match(n)]
    (kept,) = keeper.kept
    assert float(kept.sum()) == 7.0 * (1 << 20)  # still readable after the name is gone


def test_the_pool_keeps_what_it_may_and_unlinks_the_rest(make_server, keeper):
    from labkit.rpc._bulk import BulkSender

    server = make_server(dispatch=keeper, shared_memory=True)
    with RpcClient(server.address) as client:
        client._bulk.close()
        client._bulk = BulkSender(MB, 64 * MB, pool_free_bytes=2 * MB, pool_segments=2)
        client.call("keep", {"a": np.ones(4 * MB // 8)})
        client.call("drop")
        assert len(_mine()) == 1  # idle, kept: the last call's buffer was that large
        client.call("sum", {"a": np.ones(MB // 8)})  # too small for it: it goes, a new one comes
        assert len(_mine()) == 1 and client.shm_stats()["shm_segments_created"] == 2
        for value in (1.0, 2.0, 3.0):  # three arrays kept by the server: only two names kept
            client.call("keep", {"a": np.full(MB // 8, value)})
        assert len(_mine()) == 2
        assert [float(a[0]) for a in keeper.kept] == [1.0, 2.0, 3.0]  # mappings outlive names
