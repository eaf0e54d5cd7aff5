"""Timing logic of the stream link on an injected clock, and the stream message checks."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from labkit.rpc._link import LinkWatch, TokenBucket
from labkit.rpc._stream_wire import (
    StreamWireError,
    compress,
    decode_frame,
    decode_header,
    decode_rows,
)


def test_link_goes_down_after_the_timeout_of_silence_and_up_with_the_next_message():
    link = LinkWatch(ping_s=0.25, timeout_s=1.5)
    assert link.state == "connecting"
    assert not link.check(100.0)  # nothing judged before the first message
    assert link.received(0.0) and link.state == "up"
    for now in (0.25, 0.5, 0.75, 1.0):  # heartbeats every 0.25 s keep it up
        assert not link.received(now)
        assert not link.check(now)
    assert not link.check(2.49)  # 1.49 s of silence
    assert link.check(2.5) and link.state == "down" and link.down_since == 2.5
    assert not link.check(3.0)  # said once
    assert link.downs == 1
    assert link.received(7.0) and link.state == "up" and link.down_since is None
    assert link.check(8.5) and link.downs == 2


def test_a_dropped_connection_takes_the_link_down_at_once_and_a_message_brings_it_up():
    link = LinkWatch(ping_s=0.25, timeout_s=5.0)
    assert not link.disconnected(0.0)  # never up yet: nothing to report
    link.received(1.0)
    assert link.disconnected(1.2) and link.state == "down" and link.down_since == 1.2
    assert not link.disconnected(1.3) and link.downs == 1  # said once
    assert not link.check(100.0)  # already down
    assert link.received(101.0) and link.state == "up"


def test_silence_is_judged_at_the_time_next_due_says():
    link = LinkWatch(ping_s=0.25, timeout_s=1.5)
    link.received(10.0)
    link.sent(10.0)
    now, wakeups = 10.0, 0
    while not link.check(now):  # the I/O loop sleeps until next_due, pinging when due
        if link.should_ping(now):
            link.sent(now)
        now += max(link.next_due(now), 0.001)
        wakeups += 1
    assert now == pytest.approx(11.5, abs=0.002) and wakeups <= 8


def test_ping_is_due_after_ping_s_without_sending():
    link = LinkWatch(ping_s=0.25, timeout_s=1.5)
    assert link.should_ping(0.0)
    link.sent(0.0)
    assert not link.should_ping(0.2)
    assert link.next_due(0.2) == pytest.approx(0.05)
    assert link.should_ping(0.25)


def test_link_watch_rejects_a_ping_period_not_below_the_timeout():
    with pytest.raises(ValueError, match="ping_s < timeout_s"):
        LinkWatch(ping_s=2.0, timeout_s=1.0)


def test_token_bucket_holds_the_average_rate():
    bucket = TokenBucket(rate=1000.0, burst=500.0, now=0.0)
    assert bucket.allow(400, 0.0)
    assert not bucket.allow(400, 0.0)  # 100 left
    assert bucket.wait_s(400, 0.0) == pytest.approx(0.3)
    assert bucket.allow(400, 0.3)
    # a message larger than the burst goes once the bucket is full, leaving a debt
    assert bucket.allow(2000, 0.8)
    assert bucket.tokens == pytest.approx(-1500.0)
    assert not bucket.allow(10, 1.0) and not bucket.allow(10, 2.2) and bucket.allow(10, 2.4)
    sent, now = 0, 10.0
    bucket = TokenBucket(rate=1000.0, now=now)
    while now < 20.0:  # 10 s of offered 100-byte messages every ms: ~10 kB pass
        if bucket.allow(100, now):
            sent += 100
        now += 0.001
    assert 9_000 <= sent <= 10_500


def test_token_bucket_without_a_rate_allows_everything_and_rejects_a_bad_rate():
    assert TokenBucket(None).allow(1 << 30, 0.0)
    with pytest.raises(ValueError, match="rate must be > 0"):
        TokenBucket(0.0)


@pytest.mark.parametrize("codec", ["none", "lz4", "zstd"])
def test_frames_round_trip_through_each_codec(codec):
    rng = np.random.default_rng(1)
    frame = rng.poisson(100, (64, 80)).astype(np.uint16)
    header = {"op": "frame", "shape": [64, 80], "dtype": frame.dtype.str, "codec": codec}
    payload = compress(frame, codec)
    if codec != "none":
        assert len(payload) < frame.nbytes
    np.testing.assert_array_equal(decode_frame(header, payload), frame)


def test_frame_checks_refuse_before_allocating():
    good = np.zeros((8, 8), np.uint16)
    header = {"op": "frame", "shape": [8, 8], "dtype": "<u2", "codec": "none"}
    with pytest.raises(StreamWireError, match="dtype"):
        decode_frame({**header, "dtype": "|S0"}, good)
    with pytest.raises(StreamWireError, match="dtype"):
        decode_frame({**header, "dtype": "|O"}, good)
    with pytest.raises(StreamWireError, match="over the"):
        decode_frame({**header, "shape": [1 << 20, 1 << 20]}, good)
    with pytest.raises(StreamWireError, match="payload of 128 bytes"):
        decode_frame({**header, "shape": [8, 16]}, good)
    # a compressed payload that would expand to more than the shape says is refused
    big = compress(np.zeros((64, 64), np.uint16), "lz4")
    with pytest.raises(StreamWireError, match="expands to 8192 bytes, expected 128"):
        decode_frame({**header, "codec": "lz4"}, big)
    with pytest.raises(StreamWireError, match="not a blosc2 buffer|expands"):
        decode_frame({**header, "codec": "lz4"}, b"\0" * 40)
    with pytest.raises(StreamWireError, match="codec"):
        decode_frame({**header, "codec": "gzip"}, good)


def test_rows_and_headers_are_checked():
    t = np.arange(3.0)
    v = np.arange(6.0).reshape(3, 2)
    payload = np.concatenate([t, v.ravel()])
    tt, vv = decode_rows({"n": 3, "channels": 2}, payload)
    np.testing.assert_array_equal(tt, t)
    np.testing.assert_array_equal(vv, v)
    with pytest.raises(StreamWireError, match="bytes for 4 rows"):
        decode_rows({"n": 4, "channels": 2}, payload)
    with pytest.raises(StreamWireError, match="int n"):
        decode_rows({"n": -1, "channels": 2}, payload)
    with pytest.raises(StreamWireError, match="undecodable"):
        decode_header(b"\xc1garbage")
    with pytest.raises(StreamWireError, match="'op'"):
        decode_header(msgspec.msgpack.encode({"x": 1}))
