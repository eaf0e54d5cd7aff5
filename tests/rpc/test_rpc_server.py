"""RpcServer + RpcClient over real sockets: calls, errors, reliable events, limits, long calls."""

from __future__ import annotations

import logging
import socket
import threading

import numpy as np
import pytest
import zmq

from labkit.rpc import RpcClient, RpcServer, RpcTimeoutError, RpcUnavailableError, ServerBusyError
from labkit.testing import wait_until
from labkit.testing import wait_until as wait_for
from labkit.wire import Event, RemoteError, Request, decode, encode


def test_calls_reply_and_errors_arrive_as_their_types(make_server):
    server = make_server()
    assert server.address.startswith("ipc://")
    with RpcClient(server.address) as client:
        assert client.call("echo", {"x": [1, 2], "a": np.arange(3)})["x"] == [1, 2]
        assert client.call("whoami") == client.client_id
        with pytest.raises(ValueError, match="asked to fail"):
            client.call("fail")
        with pytest.raises(RemoteError, match="UnregisteredError") as info:
            client.call("fail_unregistered")
        assert "a type the client does not know" in info.value.remote_traceback
        assert client.call("status") == "fine"  # inline on the socket thread


def test_a_long_call_never_delays_pings_inline_calls_or_other_clients(make_server, dispatch):
    server = make_server()
    with RpcClient(server.address) as a, RpcClient(server.address) as b:
        outcome: dict = {}
        caller = threading.Thread(target=lambda: outcome.setdefault("r", a.call("block")))
        caller.start()
        assert dispatch.blocked.wait(10)
        # the blocked call is still pending while all of these are answered
        assert a.call("rpc.ping")["t"] > 0
        assert a.call("status") == "fine"  # same client, another thread
        assert b.call("echo", {"n": 1}) == {"n": 1}  # another client, another worker
        assert b.call("status") == "fine"
        assert "r" not in outcome and caller.is_alive()
        dispatch.release.set()
        caller.join(10)
        assert outcome["r"] == "released"


def test_a_call_timeout_says_the_server_is_busy_not_dead(make_server, dispatch):
    server = make_server()
    with RpcClient(server.address) as client:
        with pytest.raises(RpcTimeoutError, match="still answers pings"):
            client.call("block", timeout_s=0.3)
        assert dispatch.blocked.is_set()
        assert client.alive and client.call("rpc.ping")  # busy is not dead
        dispatch.release.set()


def test_events_reach_subscribers_only_in_order(make_server):
    server = make_server()
    got: list = []
    other: list = []
    with (
        RpcClient(server.address, on_event=got.append, subscribe=True),
        RpcClient(server.address, on_event=other.append) as quiet,
    ):
        for n in range(50):
            server.publish("tick", {"n": n})
        wait_for(lambda: len(got) == 50, what="50 events")
        assert [e.payload["n"] for e in got] == list(range(50))
        assert [e.seq for e in got] == list(range(1, 51))
        assert quiet.call("echo", {}) == {}  # a later reply: the events had their chance
        assert other == []


def test_events_for_a_client_wait_for_it_and_the_newest_edit_wins(make_server):
    server = make_server()
    for value in (1.0, 2.0, 3.0):  # nobody listens yet: a PUB socket would lose these
        server.send_event("c1", "edit", {"x": value}, coalesce=("edit", "x"))
    server.send_event("c1", "edit", {"y": 0.0}, coalesce=("edit", "y"))
    server.send_event("c1", "note", {"n": 1})
    # the socket thread takes them from its queue: wait until it has (coalesced: 3 held), or a
    # client connecting first on a loaded machine would be sent each edit as it is queued
    wait_for(
        lambda: (c := server._clients.find(b"c1")) is not None and len(c.backlog) == 3,
        what="the five events held for c1 as three",
    )
    got: list = []
    with RpcClient(server.address, client_id="c1", on_event=got.append) as client:
        wait_for(lambda: len(got) >= 3, what="3 events")
        client.call("echo", {})  # a round trip after: no fourth event arrives
        assert [e.payload for e in got] == [{"x": 3.0}, {"y": 0.0}, {"n": 1}]
        assert client.events_lost == 0  # superseded edits are not losses
        wait_for(lambda: not server._clients.find(b"c1").backlog, what="acks")


def test_a_client_that_comes_back_gets_only_what_it_missed(make_server):
    server = make_server()
    got: list = []
    first = RpcClient(server.address, client_id="c2", on_event=lambda e: got.append(e.payload))
    server.send_event("c2", "tick", {"n": 1})
    wait_for(lambda: got == [{"n": 1}], what="first event")
    wait_for(lambda: not server._clients.find(b"c2").backlog, what="the ack")
    first.close(goodbye=False)  # a broken link: the server keeps its events
    server.send_event("c2", "tick", {"n": 2})
    with RpcClient(server.address, client_id="c2", on_event=lambda e: got.append(e.payload)) as c:
        wait_for(lambda: len(got) == 2, what="the missed event")
        c.call("echo", {})
        assert got == [{"n": 1}, {"n": 2}]


def test_an_event_sent_to_a_connection_that_died_unacked_reaches_the_next_client_with_its_id(
    make_server,
):
    """The server hands an event to a connection that then dies without acking it: a new client
    with the same id gets it (the socket took it, so it was marked sent; only the hello's
    rewind resends it)."""
    server = make_server()
    ctx = zmq.Context()
    raw = ctx.socket(zmq.DEALER)  # a client that receives and never acks
    raw.setsockopt(zmq.IDENTITY, b"c3")
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(server.address)
    try:
        raw.send_multipart(encode(Request(id=1, method="rpc.hello", params={})))
        assert raw.poll(10_000)
        decode(raw.recv_multipart())  # the hello's reply
        server.send_event("c3", "tick", {"n": 1})
        assert raw.poll(10_000)
        assert decode(raw.recv_multipart()).payload == {"n": 1}  # it arrived; no ack follows
    finally:
        raw.close()
        ctx.term()
    got: list = []
    with RpcClient(server.address, client_id="c3", on_event=lambda e: got.append(e.payload)) as c:
        wait_for(lambda: got, what="the unacked event, resent")
        c.call("echo", {})  # a round trip after: it came once
        assert got == [{"n": 1}]
        wait_for(lambda: not server._clients.find(b"c3").backlog, what="the new client's ack")


def test_a_restarted_server_at_the_same_address_is_reached_again(runtime, dispatch):
    address = f"ipc://{runtime}/same.sock"
    got: list = []
    server = RpcServer(address, kind="test", dispatch=dispatch).start()
    client = RpcClient(address, on_event=got.append, subscribe=True, liveness_s=30)
    try:
        server.publish("tick", {"n": 1})
        wait_for(lambda: len(got) == 1, what="first event")
        server.stop()
        server = RpcServer(address, kind="test", dispatch=dispatch).start()
        # the client reconnects by itself and says hello again; the new server numbers afresh
        wait_for(lambda: len(server._clients), what="the client's new hello")
        server.publish("tick", {"n": 2})
        wait_for(lambda: len(got) == 2, what="event from the new server")
        assert got[1].seq == 1 and got[1].epoch != got[0].epoch
        assert client.call("echo", {"again": True}) == {"again": True}
    finally:
        client.close()
        server.stop()


def test_a_stalled_client_loses_counted_events_and_never_blocks_the_server(make_server, caplog):
    server = make_server(backlog_events=40)
    ctx = zmq.Context()
    stalled = ctx.socket(zmq.DEALER)
    stalled.setsockopt(zmq.IDENTITY, b"stalled")
    stalled.setsockopt(zmq.RCVHWM, 1)
    stalled.setsockopt(zmq.RCVBUF, 4096)
    stalled.setsockopt(zmq.LINGER, 0)
    stalled.connect(server.address)
    stalled.send_multipart(encode(Request(id=1, method="rpc.hello", params={"subscribe": True})))
    try:
        assert stalled.poll(10_000)  # hello answered, then it stops reading
        stalled.recv_multipart()
        payload = np.zeros(64 * 1024, np.uint8)
        with RpcClient(server.address) as other, caplog.at_level(logging.WARNING):
            for n in range(300):
                server.publish("frame", {"n": n, "data": payload})
                if n % 10 == 0:  # the server answers throughout
                    assert other.call("echo", {"n": n}, timeout_s=30) == {"n": n}
            wait_for(lambda: server.events_dropped > 0, what="dropped events")
            assert other.call("rpc.ping", timeout_s=30)
        assert any("does not read its events" in r.getMessage() for r in caplog.records)
        received = []
        while stalled.poll(2000):  # it reads again: what it gets says how much it missed
            received.append(decode(stalled.recv_multipart(copy=False)))
            if received[-1].payload["n"] == 299:
                break
        events = [m for m in received if isinstance(m, Event)]
        assert events[-1].payload["n"] == 299
        assert events[-1].lost == server.events_dropped > 0
        assert len(events) + events[-1].lost >= 300 - 40  # nothing vanished uncounted
    finally:
        stalled.close(0)
        ctx.term()


def test_too_many_clients_get_a_clear_error(make_server):
    server = make_server(max_clients=2)
    with RpcClient(server.address) as a, RpcClient(server.address) as b:
        with pytest.raises(ServerBusyError, match="already serves 2 clients"):
            RpcClient(server.address)
        assert a.call("echo", {}) == {} and b.call("echo", {}) == {}


def test_too_many_connections_are_refused_at_the_handshake(make_server):
    server = make_server(max_connections=2)
    with RpcClient(server.address) as a, RpcClient(server.address) as b:
        with pytest.raises(RpcUnavailableError):
            RpcClient(server.address, connect_timeout_s=1.0)
        wait_for(lambda: server.stats()["connections_refused"] >= 1, what="the refusal")
        assert a.call("echo", {}) == {} and b.call("echo", {}) == {}


def test_an_oversized_frame_disconnects_its_sender_only(make_server):
    server = make_server(max_message_bytes=1 << 20)
    with RpcClient(server.address) as good, RpcClient(server.address) as big:
        with pytest.raises(RpcUnavailableError, match="broke while 'echo' was pending"):
            big.call("echo", {"a": np.zeros(2 << 20, np.uint8)}, timeout_s=30)
        assert big.call("echo", {"small": 1}) == {"small": 1}  # reconnected by itself
        assert good.call("echo", {"ok": 1}) == {"ok": 1}


def test_garbage_from_a_peer_gets_an_error_without_a_traceback(make_server, dispatch):
    server = make_server()
    ctx = zmq.Context()
    raw = ctx.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(server.address)
    try:
        raw.send_multipart([b"\x93garbage", b"more"])
        assert raw.poll(10_000)
        reply = decode(raw.recv_multipart())
        assert reply.type.endswith("WireDecodeError") and reply.traceback == ""
        assert server.garbage_received == 1 and dispatch.calls == []
    finally:
        raw.close(0)
        ctx.term()


def test_stop_after_method_replies_first_and_final_events_still_go_out(runtime, dispatch):
    got: list = []
    server = RpcServer(None, kind="test", dispatch=dispatch, stop_after=("echo",))
    thread = threading.Thread(
        target=server.serve,
        kwargs={"before_close": lambda: server.publish("bye", {"last": True})},
    )
    thread.start()
    with RpcClient(server.address, on_event=got.append, subscribe=True) as client:
        assert client.call("echo", {"last": 1}) == {"last": 1}
        thread.join(10)
        assert not thread.is_alive()
        wait_for(lambda: got, what="the event published while closing")
        assert got[0].topic == "bye"


def test_tcp_server_refuses_zmtp1_peers_and_unknown_keys_and_logs_it(make_server, caplog, tmp_path):
    server = make_server("tcp://127.0.0.1:0")
    assert server.connection_file is not None
    host, port = server.address[len("tcp://") :].rsplit(":", 1)
    with caplog.at_level(logging.WARNING, logger="labkit.rpc._server"):
        with socket.create_connection((host, int(port))) as raw:  # an unversioned ZMTP/1.0 peer
            raw.sendall(bytes([1, 0, 3, 0]) + b"hi")
            wait_for(lambda: server.stats()["connections_refused"] >= 1, what="the refusal")
        with RpcClient(server.connection_file) as good:
            assert good.call("echo", {"k": 1}) == {"k": 1}
    assert any("refused a connection" in r.getMessage() for r in caplog.records)


def test_a_call_longer_than_the_liveness_window_is_not_death(make_server, dispatch):
    server = make_server()
    with RpcClient(server.address, ping_s=0.1, liveness_s=2.0) as client:
        outcome: dict = {}
        caller = threading.Thread(target=lambda: outcome.setdefault("r", client.call("block")))
        caller.start()
        assert dispatch.blocked.wait(10)
        pings_before = sum(1 for m, _ in dispatch.calls if m == "rpc.ping")
        # 30 pings (more than a liveness window of quiet) while the call runs: still alive
        wait_until(lambda: client._liveness.pings_sent >= 30, timeout_s=60, what="30 pings")
        assert client.alive and client.dead_reason is None and caller.is_alive()
        dispatch.release.set()
        caller.join(10)
        assert outcome["r"] == "released"
        assert pings_before == 0  # pings never reach dispatch: answered on the socket thread


def test_replies_are_never_stranded_by_concurrent_wake_ups(make_server):
    """Workers and publishers wake the socket thread at once; every reply still goes out at once.

    (A wake-up flag cleared after reading the pipe left a reply in the queue until the next
    timer: a stuck call here, rescued only by the idle ping, which this client never sends.)
    """
    server = make_server()
    stop = threading.Event()

    def publish_forever() -> None:  # thousands of wake-ups a second, not a flood
        while not stop.wait(0.0002):
            server.publish("noise", None)

    publisher = threading.Thread(target=publish_forever)
    publisher.start()
    try:
        with RpcClient(server.address, ping_s=30, liveness_s=60) as client:
            for n in range(1500):
                assert client.call("echo", {"n": n}, timeout_s=5.0) == {"n": n}
    finally:
        stop.set()
        publisher.join(10)


def test_learned_quick_calls_run_on_the_socket_thread_and_slow_ones_on_workers(runtime):
    from labkit.rpc import InlinePolicy

    threads: list[str] = []

    def dispatch(method, params, call):
        threads.append(threading.current_thread().name)
        return params

    policy = InlinePolicy(["get_property"], history=3)
    server = RpcServer(None, kind="learn", dispatch=dispatch, learn_inline=policy).start()
    try:
        with RpcClient(server.address) as client:
            for _ in range(6):
                client.call("get_property", {"device": "cam", "name": "x"})
            assert threads[0].startswith("labkit-rpc-learn-")  # a worker while unknown
            assert threads[-1] == "labkit-rpc-learn"  # the socket thread once learned quick
            policy.record(("get_property", "cam", "x"), 1.0)  # it turned slow once
            client.call("get_property", {"device": "cam", "name": "x"})
            assert threads[-1].startswith("labkit-rpc-learn-")
            client.call("echo", {})  # not a candidate: always a worker
            assert threads[-1].startswith("labkit-rpc-learn-")
    finally:
        server.stop()


def test_a_client_gone_without_goodbye_is_not_taken_for_the_next_on_its_fd(make_server):
    """A closed connection's fd number is reused by the next connection: the record of a client
    that left without a goodbye must not look connected through the newcomer's socket."""
    server = make_server()
    gone = RpcClient(server.address)
    gone_id = gone.client_id
    assert server.client_connected(gone_id)
    gone.close(goodbye=False)  # as a killed process: its record stays on the server
    wait_until(lambda: not server.client_connected(gone_id))
    with RpcClient(server.address) as newcomer:  # likely on the same fd number
        assert newcomer.call("whoami") == newcomer.client_id
        assert server.client_connected(newcomer.client_id)
        assert not server.client_connected(gone_id)
