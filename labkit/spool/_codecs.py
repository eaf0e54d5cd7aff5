"""Compress a frame into a preallocated buffer, with the GIL released.

The spool's hot path allocates no buffer per frame: each codec writes straight into a shard's
output buffer through imagecodecs' public encoders (``blosc_encode``, ``zlib_encode``,
``zstd_encode`` with ``out=``), which release the GIL, so codec threads run in parallel. Blosc is
c-blosc 1, the chunk format zarr's ``blosc`` codec and HDF5's Blosc filter read.

One exception: imagecodecs takes zstd levels from 1 up, so the zstd fast level (-5, used only
while the codecs fall behind) goes through ``numcodecs.zstd.compress`` and one copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.errors import LabkitError

__all__ = ["BLOSC_MAX_OVERHEAD", "Codec", "CodecError", "bound"]

BLOSC_MAX_OVERHEAD = 16


class CodecError(LabkitError, RuntimeError):
    """A codec returned an error (a labkit bug, a corrupted library or a too small buffer)."""


def bound(codec: str, nbytes: int) -> int:
    """Largest compressed size of ``nbytes`` input bytes (output buffers are this big)."""
    if codec.startswith("blosc"):
        return nbytes + BLOSC_MAX_OVERHEAD
    if codec == "zstd":  # ZSTD_COMPRESSBOUND
        small = (128 << 10) - nbytes >> 11 if nbytes < (128 << 10) else 0
        return nbytes + (nbytes >> 8) + small
    if codec == "zlib":  # zlib's compressBound
        return nbytes + (nbytes >> 12) + (nbytes >> 14) + (nbytes >> 25) + 13
    return nbytes


class Codec:
    """One codec configuration: ``compress_into(src, dst, level=None) -> bytes written``.

    ``src`` is a C-contiguous array (a frame), ``dst`` a writable uint8 array of at least
    ``bound(codec, src.nbytes)`` bytes. Thread-safe: no shared state between calls.
    """

    def __init__(self, codec: str, level: int, shuffle: bool, typesize: int) -> None:
        if codec not in ("blosc-lz4", "blosc-zstd", "zstd", "zlib"):
            raise ValueError(
                f"codec {codec!r} does not compress; use blosc-lz4, blosc-zstd, zstd or zlib"
            )
        import imagecodecs

        # Any: imagecodecs' stubs name bytes and bytearray, its encoders take any buffer
        self._ic: Any = imagecodecs
        self.codec = codec
        self.level = int(level)
        self.shuffle = 1 if shuffle else 0
        self.typesize = int(typesize)
        self.cname = {"blosc-lz4": "lz4", "blosc-zstd": "zstd"}.get(codec, "")

    @property
    def fast_level(self) -> int:
        """The cheapest level of this codec: blosc 0 and zlib 0 store (a copy in the codec's
        framing, any reader decodes it), zstd -5 (its fastest usual level)."""
        return -5 if self.codec == "zstd" else 0

    def compress_into(self, src: np.ndarray, dst: np.ndarray, level: int | None = None) -> int:
        """Compress ``src`` into the start of ``dst``; returns the compressed size.

        ``level`` overrides the configured level (e.g. ``fast_level``). Raises
        :class:`CodecError` when the codec fails (e.g. ``dst`` too small).
        """
        level = self.level if level is None else level
        try:
            if self.cname:
                out = self._ic.blosc_encode(
                    src,
                    level,
                    compressor=self.cname,
                    shuffle=self.shuffle,
                    typesize=self.typesize,
                    numthreads=1,
                    out=dst,
                )
            elif self.codec == "zlib":
                out = self._ic.zlib_encode(src, level, out=dst)
            elif level >= 1:
                out = self._ic.zstd_encode(src, level, out=dst)
            else:
                return self._zstd_fast(src, dst, level)
        except (self._ic.BloscError, self._ic.ZlibError, self._ic.ZstdError, ValueError) as exc:
            raise CodecError(f"{self.codec} compression failed: {exc}") from exc
        return len(out)

    @staticmethod
    def _zstd_fast(src: np.ndarray, dst: np.ndarray, level: int) -> int:
        from numcodecs import zstd

        data = np.frombuffer(zstd.compress(src, level), np.uint8)
        if data.nbytes > dst.nbytes:
            raise CodecError(f"zstd compression failed: {data.nbytes} bytes > {dst.nbytes}")
        dst[: data.nbytes] = data
        return data.nbytes
