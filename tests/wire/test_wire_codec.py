"""Round trips, zero-copy and chunking of the array codec."""

from __future__ import annotations

import enum

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire_helpers import WIRE_SETTINGS, any_arrays, assert_same, trees

from labkit.wire import (
    Event,
    Reply,
    Request,
    WireDecodeError,
    WireEncodeError,
    _codec,
    decode,
    encode,
)


@WIRE_SETTINGS
@given(trees)
def test_random_trees_round_trip_exactly(tree):
    assert_same(decode(encode(tree)), tree)


@WIRE_SETTINGS
@given(any_arrays())
def test_random_arrays_round_trip_with_dtype_and_shape(arr):
    frames = encode(arr)
    out = decode(frames)
    assert_same(out, arr)
    assert len(frames) == (2 if arr.nbytes else 1)


@WIRE_SETTINGS
@given(any_arrays(max_dims=3, max_side=6), st.integers(min_value=1, max_value=17))
def test_arrays_split_over_small_frames_are_joined(arr, limit):
    frames = encode({"a": arr}, max_frame_bytes=limit)
    assert all(len(memoryview(f)) <= limit for f in frames[1:])
    assert len(frames) - 1 == -(-arr.nbytes // limit)
    assert_same(decode(frames)["a"], arr)


def test_module_chunk_limit_is_overridable(monkeypatch):
    monkeypatch.setattr(_codec, "MAX_FRAME_BYTES", 64)
    arr = np.arange(100, dtype=np.uint16)  # 200 bytes -> 4 frames of <= 64 bytes
    frames = encode(arr)
    assert [memoryview(f).nbytes for f in frames[1:]] == [64, 64, 64, 8]
    assert_same(decode(frames), arr)


def test_default_chunk_limit_splits_an_array_at_one_gib():
    arr = np.empty((1 << 30) + 8, np.uint8)  # never written: its pages are never mapped
    frames = encode(arr)  # zero-copy: the frames are views of the array
    assert [memoryview(f).nbytes for f in frames[1:]] == [1 << 30, 8]
    assert np.shares_memory(np.frombuffer(frames[2], np.uint8), arr)


def test_c_contiguous_array_is_sent_and_decoded_zero_copy():
    arr = np.arange(4096, dtype=np.uint16).reshape(64, 64)
    frames = encode(Request(id=1, method="push", params={"data": arr}))
    assert isinstance(frames[1], memoryview)
    assert np.shares_memory(np.frombuffer(frames[1], dtype=np.uint8), arr)
    out = decode(frames).params["data"]
    assert np.shares_memory(out, arr)
    assert not out.flags.writeable  # documented: views of the received frames are read-only
    copied = decode(frames, copy_arrays=True).params["data"]
    assert copied.flags.writeable and not np.shares_memory(copied, arr)
    assert_same(copied, arr)


def test_fortran_array_is_sent_zero_copy_with_f_strides():
    arr = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    frames = encode(arr)
    assert np.shares_memory(np.frombuffer(frames[1], dtype=np.uint8), arr)
    out = decode(frames)
    assert out.flags.f_contiguous and np.shares_memory(out, arr)
    assert_same(out, arr)


def test_non_contiguous_array_is_copied_once_into_c_order():
    base = np.arange(100, dtype=np.int32).reshape(10, 10)
    view = base[::2, 1::3]
    frames = encode(view)
    assert not np.shares_memory(np.frombuffer(frames[1], dtype=np.uint8), base)
    assert_same(decode(frames), view)


def test_numpy_scalars_become_python_scalars():
    out = decode(
        encode([np.float32(1.5), np.int8(-3), np.uint64(2**64 - 1), np.bool_(True), np.str_("s")])
    )
    assert out == [1.5, -3, 2**64 - 1, True, "s"]
    assert [type(x) for x in out] == [float, int, int, bool, str]
    assert decode(encode(np.complex64(1 + 2j))) == 1 + 2j


def test_datetime_scalars_keep_their_unit():
    stamp = np.datetime64("2026-01-02T03:04:05.123", "ms")
    out = decode(encode({"t": stamp, "dt": np.timedelta64(5, "us")}))
    assert out["t"] == stamp and out["t"].dtype == stamp.dtype
    assert out["dt"].dtype == np.dtype("m8[us]")


def test_big_bytes_travel_out_of_band():
    blob = bytes(range(256)) * 1024  # 256 KiB
    frames = encode({"blob": blob, "small": b"abc"})
    assert len(frames) == 2 and len(frames[0]) < 200
    assert decode(frames) == {"blob": blob, "small": b"abc"}


def test_messages_round_trip_and_keep_their_class():
    msgs = [
        Request(id=7, method="set", params={"roi": (0, 0, 64, 64), "exposure_ms": 10.0}),
        Reply(id=7, result={"frame": np.zeros((2, 2), np.uint16)}),
        Event(topic="state", payload={"state": "running"}, seq=3),
    ]
    out = decode(encode(msgs))
    assert [type(m) for m in out] == [Request, Reply, Event]
    assert out[0].params["roi"] == (0, 0, 64, 64)  # tuples stay tuples
    assert_same(out[1].result["frame"], msgs[1].result["frame"])
    assert out[2] == msgs[2]


def test_enums_travel_as_their_value():
    class State(enum.StrEnum):
        running = "running"

    class Binning(enum.IntEnum):
        two = 2

    out = decode(encode({"state": State.running, "binning": Binning.two}))
    assert out == {"state": "running", "binning": 2}
    assert type(out["state"]) is str and type(out["binning"]) is int


@pytest.mark.parametrize(
    ("obj", "where"),
    [
        ({"a": [1, {"b": object()}]}, "['a'][1]['b']"),
        ({"x": np.array([object()], dtype=object)}, "['x']"),
        ([np.zeros(2, dtype=[("a", "i4"), ("b", "f8")])], "[0]"),
        ({(1, 2): 3}, "the top level"),
        ({"s": {1, 2}}, "['s']"),
        (Request(id=1, method="m", params={"f": lambda: 0}), ".params['f']"),
    ],
)
def test_unsupported_values_raise_encode_error_naming_the_path(obj, where):
    with pytest.raises(WireEncodeError) as info:
        encode(obj)
    assert f"at {where}:" in str(info.value)


def test_integers_beyond_64_bits_raise_encode_error():
    with pytest.raises(WireEncodeError, match="encode"):
        encode({"n": 2**70})


def test_offloaded_buffers_travel_as_references_the_receiver_resolves():
    store: dict[str, bytes] = {}

    def offload(view):
        if view.nbytes < 1000:
            return None  # small: stays in the frames
        store[f"b{len(store)}"] = bytes(view)
        return {"ref": f"b{len(store) - 1}"}

    big, small = np.arange(500, dtype=np.float64), np.arange(3)
    frames = encode({"big": big, "small": small, "raw": b"x" * 70000}, offload=offload)
    assert len(frames) == 2 and len(store) == 2  # header + the small array
    out = decode(frames, resolve=lambda ref: memoryview(store[ref["ref"]]))
    np.testing.assert_array_equal(out["big"], big)
    assert out["raw"] == b"x" * 70000 and not out["big"].flags.writeable
    with pytest.raises(WireDecodeError, match="does not accept"):
        decode(frames)  # no resolver: refused
    with pytest.raises(WireDecodeError, match="needs 4000 bytes but its frames hold 8"):
        decode(frames, resolve=lambda ref: memoryview(b"12345678"))  # sizes still checked
