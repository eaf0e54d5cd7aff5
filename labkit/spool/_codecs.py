"""Compress a frame into a preallocated buffer, with the GIL released (ctypes calls into C).

The spool's hot path allocates no buffer per frame: each codec writes straight into a shard's
output buffer. The libraries are the ones already installed with labkit's dependencies:
c-blosc 1 from numcodecs (the chunk format zarr's ``blosc`` codec and HDF5's Blosc filter
read), zstd from numcodecs, zlib from the system (what Python's ``zlib`` module links).
ctypes releases the GIL for the duration of each call, so codec threads run in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os
import zlib
from typing import Any

from labkit.errors import LabkitError

BLOSC_MAX_OVERHEAD = 16


def _numcodecs_lib(module: str) -> ctypes.CDLL:
    import numcodecs

    pattern = os.path.join(os.path.dirname(numcodecs.__file__), f"{module}.*.so")
    found = glob.glob(pattern)
    if not found:  # pragma: no cover - a numcodecs build without its C extensions
        raise ImportError(f"numcodecs has no {module} extension ({pattern}); reinstall numcodecs")
    return ctypes.CDLL(found[0])


@functools.cache
def _blosc() -> ctypes.CDLL:
    lib = _numcodecs_lib("blosc")
    lib.blosc_compress_ctx.argtypes = [
        ctypes.c_int,  # clevel
        ctypes.c_int,  # doshuffle
        ctypes.c_size_t,  # typesize
        ctypes.c_size_t,  # nbytes
        ctypes.c_void_p,  # src
        ctypes.c_void_p,  # dest
        ctypes.c_size_t,  # destsize
        ctypes.c_char_p,  # compressor
        ctypes.c_size_t,  # blocksize
        ctypes.c_int,  # numinternalthreads
    ]
    lib.blosc_compress_ctx.restype = ctypes.c_int
    return lib


@functools.cache
def _zstd() -> ctypes.CDLL:
    lib = _numcodecs_lib("zstd")
    lib.ZSTD_compress.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
    ]
    lib.ZSTD_compress.restype = ctypes.c_size_t
    lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
    lib.ZSTD_isError.restype = ctypes.c_uint
    lib.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
    lib.ZSTD_compressBound.restype = ctypes.c_size_t
    return lib


@functools.cache
def _zlib() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("z")
    if name is None:  # pragma: no cover - no shared libz: fall back to the zlib module
        return None
    lib = ctypes.CDLL(name)
    lib.compress2.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
    ]
    lib.compress2.restype = ctypes.c_int
    lib.compressBound.argtypes = [ctypes.c_ulong]
    lib.compressBound.restype = ctypes.c_ulong
    return lib


def bound(codec: str, nbytes: int) -> int:
    """Largest compressed size of ``nbytes`` input bytes (output buffers are this big)."""
    if codec.startswith("blosc"):
        return nbytes + BLOSC_MAX_OVERHEAD
    if codec == "zstd":
        return int(_zstd().ZSTD_compressBound(nbytes))
    if codec == "zlib":
        lib = _zlib()
        return int(lib.compressBound(nbytes)) if lib else nbytes + nbytes // 1000 + 64
    return nbytes


class CodecError(LabkitError, RuntimeError):
    """A codec returned an error code (a labkit bug or a corrupted library): report it."""


class Codec:
    """One codec configuration; ``compress_into(src_ptr, nbytes, dst_ptr, cap) -> nbytes out``.

    Pointers are raw addresses (``array.ctypes.data`` + offset): the caller keeps the buffers
    alive. Thread-safe: no shared state between calls (blosc uses a per-call context).
    """

    def __init__(self, codec: str, level: int, shuffle: bool, typesize: int) -> None:
        self.codec = codec
        self.level = int(level)
        self.shuffle = 1 if shuffle else 0
        self.typesize = int(typesize)
        self.cname = {"blosc-lz4": b"lz4", "blosc-zstd": b"zstd"}.get(codec, b"")
        self._lib: Any = None
        if codec.startswith("blosc"):
            self._lib = _blosc()
        elif codec == "zstd":
            self._lib = _zstd()
        elif codec == "zlib":
            self._lib = _zlib()

    @property
    def fast_level(self) -> int:
        """The cheapest level of this codec: blosc 0 and zlib 0 store (a copy in the codec's
        framing, any reader decodes it), zstd -5 (its fastest usual level)."""
        return -5 if self.codec == "zstd" else 0

    def compress_into(
        self, src: int, nbytes: int, dst: int, cap: int, level: int | None = None
    ) -> int:
        """Compress ``nbytes`` at address ``src`` into ``cap`` bytes at ``dst``; returns the size.

        ``level`` overrides the configured level (e.g. ``fast_level``). Raises ``CodecError``
        when the codec reports an error (e.g. ``cap`` too small).
        """
        level = self.level if level is None else level
        if self.cname:
            n = self._lib.blosc_compress_ctx(
                level, self.shuffle, self.typesize, nbytes, src, dst, cap, self.cname, 0, 1
            )
            if n <= 0:
                raise CodecError(f"blosc compression failed (code {n})")
            return int(n)
        if self.codec == "zstd":
            n = self._lib.ZSTD_compress(dst, cap, src, nbytes, level)
            if self._lib.ZSTD_isError(n):
                raise CodecError(f"zstd compression failed (code {n})")
            return int(n)
        if self.codec == "zlib":
            if self._lib is None:  # pragma: no cover - no shared libz
                data = zlib.compress(ctypes.string_at(src, nbytes), level)
                ctypes.memmove(dst, data, len(data))
                return len(data)
            out_len = ctypes.c_ulong(cap)
            rc = self._lib.compress2(dst, ctypes.byref(out_len), src, nbytes, level)
            if rc != 0:
                raise CodecError(f"zlib compression failed (code {rc})")
            return int(out_len.value)
        raise CodecError(f"codec {self.codec!r} does not compress")
