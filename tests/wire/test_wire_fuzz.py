"""Hostile input: decode raises WireDecodeError (and nothing else) for anything malformed."""

from __future__ import annotations

import pickle

import msgspec
import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from wire_helpers import WIRE_SETTINGS

from labkit.wire import Event, Request, WireDecodeError, _codec, decode, encode


def _decode_or_wire_error(frames):
    try:
        decode(frames)
    except WireDecodeError as exc:
        assert str(exc)  # a message that says what is wrong
        return exc
    return None


def _valid_messages():
    da = xr.DataArray(
        np.arange(6, dtype=np.uint16).reshape(2, 3),
        dims=("y", "x"),
        coords={"x": [0.0, 0.5, 1.0]},
        attrs={"units": "counts"},
    )
    return [
        encode(Request(id=1, method="set", params={"exposure_ms": 10.0, "roi": (0, 0, 4, 4)})),
        encode(Event(topic="frame", payload={"data": np.ones((3, 3), np.float32)}, seq=2)),
        encode({"da": da, "t": np.datetime64("2026-01-01", "s")}),
        encode(np.arange(40, dtype=np.int64), max_frame_bytes=64),
    ]


VALID = [[bytes(memoryview(f)) for f in frames] for frames in _valid_messages()]


@WIRE_SETTINGS
@given(st.lists(st.binary(max_size=64), max_size=4))
def test_random_frames_raise_only_wire_decode_error(frames):
    _decode_or_wire_error(frames)


@WIRE_SETTINGS
@given(st.sampled_from(VALID), st.data())
def test_mutated_valid_messages_raise_only_wire_decode_error(frames, data):
    frames = list(frames)
    which = data.draw(st.integers(0, len(frames) - 1))
    target = bytearray(frames[which])
    action = data.draw(st.sampled_from(["flip", "truncate", "drop_frame", "extra_frame"]))
    if action == "flip" and target:
        pos = data.draw(st.integers(0, len(target) - 1))
        target[pos] = data.draw(st.integers(0, 255))
        frames[which] = bytes(target)
    elif action == "truncate":
        frames[which] = bytes(target[: data.draw(st.integers(0, max(len(target) - 1, 0)))])
    elif action == "drop_frame":
        del frames[which]
    else:
        frames.append(data.draw(st.binary(max_size=16)))
    _decode_or_wire_error(frames)


def _header(body, n_buffers):
    return msgspec.msgpack.encode([_codec.MAGIC, _codec.WIRE_VERSION, n_buffers, body])


def _array_ext(meta):
    return msgspec.msgpack.Ext(_codec._EXT_ARRAY, msgspec.msgpack.encode(meta))


def _meta(**kw):
    meta = {"__nd__": [1], "dtype": "<u2", "shape": [2, 2], "strides": [4, 2]}
    meta.update(kw)
    return meta


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        ([pickle.dumps({"cmd": "rm -rf"})], "not a labkit wire message"),  # noqa: S301
        ([pickle.dumps(np.zeros(3)), b"\0" * 24], "not a labkit wire message"),  # noqa: S301
        ([b""], "invalid header"),
        ([], "empty message"),
        ([b"\x93\xa6labkit\x01"], "invalid header"),
        ([msgspec.msgpack.encode(["other", 1, 0, None])], "envelope"),
        ([msgspec.msgpack.encode([_codec.MAGIC, 99, 0, None])], "version 99"),
        ([_header(None, 0), b"extra"], "declares 0 buffer frames but 1 arrived"),
        ([_header(_array_ext(_meta()), 1)], "frame 1"),
        ([_header(_array_ext(_meta()), 1), b"\0" * 7], "needs 8 bytes .* hold 7 bytes"),
        ([_header(_array_ext(_meta(shape=[-1, 4])), 1), b"\0" * 8], "non-negative"),
        ([_header(_array_ext(_meta(shape=[2**40, 2**40])), 1), b"\0" * 8], "needs"),
        ([_header(_array_ext(_meta(dtype="|O")), 1), b"\0" * 8], "not allowed"),
        ([_header(_array_ext(_meta(dtype="i4,i4")), 1), b"\0" * 8], "not allowed"),
        ([_header(_array_ext(_meta(dtype="not-a-dtype")), 1), b"\0" * 8], "unknown array dtype"),
        ([_header(_array_ext(_meta(strides=[2, 2])), 1), b"\0" * 8], "strides"),
        ([_header([_array_ext(_meta()), _array_ext(_meta())], 1), b"\0" * 8], "twice"),
        ([_header(msgspec.msgpack.Ext(42, b"\xc0"), 0)], "unknown extension type 42"),
    ],
)
def test_malformed_messages_say_what_is_wrong(frames, match):
    with pytest.raises(WireDecodeError, match=match):
        decode(frames)


@pytest.mark.parametrize("dtype", ["|S0", "<U0", "S", "U", "|V0"])
def test_item_size_zero_dtypes_are_rejected_without_allocating(dtype):
    import tracemalloc

    frames = [_header(_array_ext(_meta(dtype=dtype, shape=[2**31, 2**20], strides=[0, 0])), 1), b""]
    assert sum(len(f) for f in frames) < 200  # the 174-byte bomb of the security report
    tracemalloc.start()
    try:
        with pytest.raises(WireDecodeError, match="size 0|not allowed"):
            decode(frames)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_declared_sizes_beyond_the_bytes_received_are_rejected_without_allocating():
    import tracemalloc

    huge = _header(_array_ext(_meta(dtype="<f8", shape=[2**30, 2**10], strides=[2**13, 8])), 1)
    tracemalloc.start()
    try:
        with pytest.raises(WireDecodeError, match="needs 8796093022208 bytes .* hold 8 bytes"):
            decode([huge, b"\0" * 8])
        with pytest.raises(WireDecodeError, match="non-negative"):
            decode([_header(_array_ext(_meta(shape=[0, 2**63], strides=[8, 8])), 1), b""])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_unreferenced_buffer_frames_are_rejected():
    header = _header([1, 2], 1)
    with pytest.raises(WireDecodeError, match="not referenced"):
        decode([header, b"\0" * 8])


def _message_ext(tag, fields):
    return msgspec.msgpack.Ext(_codec._EXT_MESSAGE, msgspec.msgpack.encode([tag, fields]))


def test_unknown_message_type_and_version_are_rejected():
    with pytest.raises(WireDecodeError, match="unknown message type 'Shutdown'"):
        decode([_header(_message_ext("Shutdown", {"v": 1}), 0)])
    fields = {"v": 2, "id": 1, "method": "snap", "params": {}}
    with pytest.raises(WireDecodeError, match="Request message version 2 is not supported"):
        decode([_header(_message_ext("Request", fields), 0)])
    with pytest.raises(WireDecodeError, match="invalid Request message"):
        decode([_header(_message_ext("Request", {"v": 1, "id": "one", "method": "m"}), 0)])


def test_deeply_nested_header_is_a_decode_error_not_a_crash():
    envelope = b"\x94\xa6labkit\x01\x00"  # [MAGIC, 1, 0, <body>]
    assert decode([envelope + b"\xc0"]) is None
    _decode_or_wire_error([envelope + b"\x91" * 100_000 + b"\xc0"])  # 100k nested lists
    nested = msgspec.msgpack.Ext(_codec._EXT_TUPLE, b"\xc0")
    for _ in range(2000):
        nested = msgspec.msgpack.Ext(_codec._EXT_TUPLE, msgspec.msgpack.encode([nested]))
    _decode_or_wire_error([_header(nested, 0)])


def test_non_bytes_frames_are_rejected():
    with pytest.raises(WireDecodeError, match="not bytes-like"):
        decode([object()])
    with pytest.raises(WireDecodeError, match="list of frames"):
        decode(42)


def _xarray_ext(kind, plain):
    return msgspec.msgpack.Ext(_codec._EXT_XARRAY, msgspec.msgpack.encode([kind, plain]))


@pytest.mark.parametrize(
    ("kind", "plain", "match"),
    [
        ("dataarray", {"values": _array_ext(_meta())}, "malformed xarray"),  # keys missing
        (
            "dataarray",
            {"values": _array_ext(_meta()), "dims": ["x"], "name": None, "attrs": {}, "coords": []},
            "malformed xarray",  # 2-d values with one dim
        ),
        (
            "dataarray",
            {"values": [1, 2], "dims": ["x"], "name": None, "attrs": {}, "coords": []},
            "must be an array",
        ),
        ("dataset", {"data_vars": 3, "coords": [], "attrs": {}}, "malformed xarray"),
        ("tree", {}, "malformed xarray payload"),
    ],
)
def test_malformed_xarray_payloads_are_decode_errors(kind, plain, match):
    frames = [_header(_xarray_ext(kind, plain), 1), b"\0" * 8]
    with pytest.raises(WireDecodeError, match=match):
        decode(frames)
