"""The spool's codecs write into preallocated buffers through public encoders, and every reader
decodes what they write (configured level and fast level alike)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from numcodecs import blosc, zstd

from labkit.spool._codecs import Codec, CodecError, bound

CODECS = ["blosc-lz4", "blosc-zstd", "zlib", "zstd"]


def _decode(codec: str, data: bytes) -> bytes:
    if codec.startswith("blosc"):
        return blosc.decompress(data)
    if codec == "zlib":
        return zlib.decompress(data)
    return zstd.decompress(data)


def _frame() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.poisson(100, (256, 300)).astype(np.uint16)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("fast", [False, True])
def test_compress_into_round_trips(codec, fast):
    frame = _frame()
    c = Codec(codec, level=1, shuffle=True, typesize=2)
    # chunks go back to back in a shard buffer: the bytes before ``dst`` must stay as they are
    shard = np.full(64 + bound(codec, frame.nbytes), 0xAB, np.uint8)
    n = c.compress_into(frame, shard[64:], c.fast_level if fast else None)
    assert 0 < n <= bound(codec, frame.nbytes)
    assert (shard[:64] == 0xAB).all()
    assert _decode(codec, shard[64 : 64 + n].tobytes()) == frame.tobytes()


@pytest.mark.parametrize("codec", CODECS)
def test_fast_level_is_the_cheap_one(codec):
    frame = _frame()
    c = Codec(codec, level=5, shuffle=True, typesize=2)
    dst = np.empty(bound(codec, frame.nbytes), np.uint8)
    assert c.compress_into(frame, dst, c.fast_level) > c.compress_into(frame, dst)


@pytest.mark.parametrize("codec", CODECS)
def test_bound_holds_for_incompressible_data(codec):
    noise = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8)
    c = Codec(codec, level=1, shuffle=False, typesize=1)
    dst = np.empty(bound(codec, noise.nbytes), np.uint8)
    n = c.compress_into(noise, dst)
    assert noise.nbytes <= n <= dst.nbytes
    assert _decode(codec, dst[:n].tobytes()) == noise.tobytes()


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("fast", [False, True])
def test_a_too_small_buffer_raises_codec_error(codec, fast):
    noise = np.random.default_rng(1).integers(0, 256, 1 << 16, dtype=np.uint8)
    c = Codec(codec, level=1, shuffle=False, typesize=1)
    with pytest.raises(CodecError, match=codec):
        c.compress_into(noise, np.empty(1000, np.uint8), c.fast_level if fast else None)


def test_unknown_codec_names_the_accepted_ones():
    with pytest.raises(ValueError, match="blosc-lz4, blosc-zstd, zstd or zlib"):
        Codec("lzma", level=1, shuffle=False, typesize=2)
