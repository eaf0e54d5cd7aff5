"""Hostile input to the manager's socket from a connected client: pickle, garbage, truncated frames.

Each must get an error reply or be dropped; the manager keeps serving and executes nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit.viewer as lv
from labkit.wire import ErrorReply, Reply, Request, decode, encode


def _pickle_bomb(marker) -> bytes:
    """A protocol-0 pickle that runs a shell command when unpickled (written by hand, no pickle import)."""
    return f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()


@pytest.fixture
def raw(manager):
    ctx = zmq.Context()
    req = ctx.socket(zmq.DEALER)
    req.linger = 0
    req.connect(manager.address)
    yield req
    req.close()
    ctx.term()


_next_id = iter(range(1000, 10**9))


def _still_serving(req) -> list:
    """Send a ping; return the error replies that arrived before its answer (asserting it arrives)."""
    rid = next(_next_id)
    req.send_multipart(encode(Request(id=rid, method="ping", params={"echo": rid})))
    errors = []
    while True:
        assert req.poll(5000), "manager stopped answering"
        msg = decode(req.recv_multipart())
        if isinstance(msg, Reply) and msg.id == rid:
            assert msg.result["echo"] == rid
            return errors
        assert isinstance(msg, ErrorReply), msg
        errors.append(msg)


def test_pickle_payloads_are_rejected_and_never_executed(raw, tmp_path):
    req = raw
    marker = tmp_path / "pwned"
    bomb = _pickle_bomb(marker)
    good = encode(Request(id=1, method="show", params={"data": np.zeros(4)}))
    for frames in ([bomb], [bomb, bomb], [good[0], bomb], [b"", bomb]):
        req.send_multipart(frames)
    errors = _still_serving(req)
    assert len(errors) == 4 and all("Decode" in e.type for e in errors)
    assert all(e.traceback == "" for e in errors)  # nothing to learn about the server
    assert not marker.exists()
    assert len(lv.managers[0].windows()) == 0


def test_truncated_and_wrong_shaped_frames_get_error_replies(raw):
    req = raw
    frames = [
        bytes(memoryview(f))
        for f in encode(Request(id=5, method="show", params={"data": np.arange(100.0)}))
    ]
    cases = [
        [frames[0][: len(frames[0]) // 2], *frames[1:]],  # header cut in half
        [frames[0]],  # array buffer missing
        [frames[0], frames[1][:-8]],  # array buffer short
        [frames[0], *frames[1:], b"extra"],  # one frame too many
    ]
    for case in cases:
        req.send_multipart(case)
    assert len(_still_serving(req)) == len(cases)
    assert lv.managers[0].windows() == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_fuzzed_frames_never_stop_the_manager(raw, frames):
    raw.send_multipart(frames)
    errors = _still_serving(raw)
    assert len(errors) == 1  # a random message is never a valid request
