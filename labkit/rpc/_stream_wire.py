"""The messages of a stream export: msgpack headers, pixels and rows as raw (or blosc2) buffers.

A data message is two frames: a msgpack header and one payload. Frames carry ``shape``/``dtype``
and, when compressed, the codec (``lz4`` or ``zstd``, blosc2 with byte shuffle); rows carry the
number of rows and channels (timestamps then values, float64). Nothing is unpickled; the receiver
checks the dtype (no item size 0), that the declared size matches the shape, and that a compressed
payload expands to exactly that size before it decompresses into a buffer of that size.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from labkit.errors import LabkitError

__all__ = [
    "CODECS",
    "MAX_FRAME_BYTES",
    "StreamWireError",
    "compress",
    "decode_frame",
    "decode_rows",
    "decode_header",
    "encode_header",
]

CODECS = ("none", "lz4", "zstd")
MAX_FRAME_BYTES = 1 << 30  # a declared frame larger than this is refused
_DTYPES = frozenset({"|u1", "<u2", "<u4", "|i1", "<i2", "<i4", "<f4", "<f8", "<i8", "<u8"})
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict)


class StreamWireError(LabkitError, ValueError):
    """A stream message that is not of the accepted form (the message says what is wrong)."""


def encode_header(header: dict[str, Any]) -> bytes:
    return _encoder.encode(header)


def decode_header(data: Any) -> dict[str, Any]:
    """A msgpack map, else :class:`StreamWireError`."""
    try:
        header = _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise StreamWireError(f"undecodable stream header: {exc}") from None
    if not isinstance(header.get("op"), str):
        raise StreamWireError("a stream header needs a string 'op'")
    return header


def compress(array: np.ndarray, codec: str, nthreads: int = 2) -> Any:
    """The bytes to send for ``array`` (C-contiguous) with ``codec`` (``none``: the array itself).

    Raises ``ValueError`` naming the codecs for an unknown one.
    """
    if codec == "none":
        return array
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
    import blosc2

    return blosc2.compress2(
        array,
        codec=blosc2.Codec.LZ4 if codec == "lz4" else blosc2.Codec.ZSTD,
        clevel=1,
        typesize=array.dtype.itemsize,
        filter=blosc2.Filter.SHUFFLE,
        nthreads=nthreads,
    )


def _dtype(text: Any) -> np.dtype:
    if not isinstance(text, str) or text not in _DTYPES:
        raise StreamWireError(f"dtype {text!r} is not one of {sorted(_DTYPES)}")
    return np.dtype(text)


def _decompress(buf: memoryview, codec: Any, nbytes: int, out: np.ndarray) -> None:
    """Decompress ``buf`` (``nbytes`` once expanded) into ``out``, checking sizes first."""
    if codec not in CODECS:
        raise StreamWireError(f"codec {codec!r} is not one of {CODECS}")
    import blosc2

    try:
        declared = blosc2.get_cbuffer_sizes(bytes(buf[:32]))[0]
    except Exception as exc:  # noqa: BLE001 - blosc2 raises plain errors for bad headers
        raise StreamWireError(f"not a blosc2 buffer: {exc}") from None
    if declared != nbytes:
        raise StreamWireError(f"compressed payload expands to {declared} bytes, expected {nbytes}")
    blosc2.decompress2(buf, dst=out)


def decode_frame(header: dict[str, Any], payload: Any) -> np.ndarray:
    """The pixels of a ``frame`` message: uncompressed, a read-only view of ``payload`` (no
    copy); compressed, a new array.

    Raises:
        StreamWireError: bad shape, dtype, size or codec.
    """
    dtype = _dtype(header.get("dtype"))
    shape = header.get("shape")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 4:
        raise StreamWireError(f"frame shape must be a list of 1-4 sizes, got {shape!r}")
    if not all(isinstance(n, int) and 0 < n <= 1 << 20 for n in shape):
        raise StreamWireError(f"frame sizes must be positive ints, got {shape!r}")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes > MAX_FRAME_BYTES:
        raise StreamWireError(f"a frame of {nbytes} bytes is over the {MAX_FRAME_BYTES} limit")
    codec, buf = header.get("codec", "none"), memoryview(payload)
    if codec == "none":
        if buf.nbytes != nbytes:
            raise StreamWireError(f"payload of {buf.nbytes} bytes for a {nbytes}-byte frame")
        array = np.frombuffer(buf, dtype).reshape(shape)
        array.flags.writeable = False
        return array
    out = np.empty(tuple(shape), dtype)
    _decompress(buf, codec, nbytes, out)
    return out


def decode_rows(header: dict[str, Any], payload: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(timestamps (n,), values (n, c))`` of a ``rows`` message (float64, timestamps first).

    Raises:
        StreamWireError: the sizes do not match.
    """
    n, c = header.get("n"), header.get("channels")
    if not (isinstance(n, int) and isinstance(c, int) and 0 <= n <= 1 << 24 and 0 <= c <= 1024):
        raise StreamWireError(f"rows need int n and channels in range, got {n!r}, {c!r}")
    flat = np.frombuffer(memoryview(payload), np.uint8)
    if flat.nbytes != 8 * n * (c + 1):
        raise StreamWireError(f"{flat.nbytes} bytes for {n} rows of {c} channels")
    data = flat.view("<f8")
    return data[:n].copy(), data[n:].reshape(n, c).copy()
