"""Preallocated shard buffers that travel reader -> compressor -> writer and back to the pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.spool._codecs import Codec, bound
from labkit.spool._layout import FRAME_META, Layout

#: O_DIRECT alignment (bytes) of buffers, file offsets and lengths
ALIGN = 4096


def aligned_empty(nbytes: int) -> np.ndarray:
    """An uninitialised uint8 array of ``nbytes`` whose first byte is ``ALIGN``-aligned."""
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    return raw[start : start + nbytes]


class Block:
    """One shard being assembled: raw pixels, per-frame metadata and the compressed chunks.

    All arrays are allocated once per spool; ``reset`` reuses them for the next shard. When
    compressing, ``out`` receives every chunk back to back in acquisition order and
    ``chunk_off``/``chunk_len`` (by slot) say where each one is.
    """

    __slots__ = (
        "raw",
        "meta",
        "filled",
        "order",
        "out",
        "chunk_off",
        "chunk_len",
        "n",
        "key",
        "seq",
        "nbytes_out",
        "fd",
        "n_fast",
        "tail",
        "meta_frame",
        "meta_timestamp_s",
    )

    def __init__(self, layout: Layout, with_pixels: bool = True, out_bytes: int = 0) -> None:
        cap = layout.slots_per_shard
        if with_pixels:
            # aligned, so a shard of page-multiple frames goes to disk in one O_DIRECT write
            flat = aligned_empty(cap * layout.frame_bytes)
            flat[::4096] = 0  # touch pages now, not on the hot path
            self.raw = flat.view(layout.dtype).reshape(cap, *layout.frame_shape)
        else:  # direct mode: frames go from the ring slot straight into the shard file
            self.raw = np.empty((cap, 0, 0), dtype=layout.dtype)
        # compressed chunks back to back, padded to ALIGN for O_DIRECT writes
        self.out = aligned_empty(-(-cap * out_bytes // ALIGN) * ALIGN)
        self.out[::4096] = 0
        # the shard index at the end of the file, in an aligned tail block
        self.tail = aligned_empty(-(-cap * 16 // ALIGN) * ALIGN)
        self.chunk_off = np.zeros(cap, dtype=np.int64)
        self.chunk_len = np.zeros(cap, dtype=np.int64)
        self.fd = -1
        self.n_fast = 0  # frames compressed at the codec's fast level (the codecs fell behind)
        self.meta = np.zeros(cap, dtype=FRAME_META)
        # field views made once: the reader sets ``meta_frame[slot]`` per frame, the ring
        # reader fills index..y_um of ``meta[slot]`` (``RingReader.next_into(..., row=slot)``)
        self.meta_frame = self.meta["frame"]
        self.meta_timestamp_s = self.meta["timestamp_s"]
        self.filled = np.zeros(cap, dtype=bool)
        self.order = np.zeros(cap, dtype=np.int64)  # slots in acquisition order
        self.n = 0
        self.key: tuple[int, ...] = ()
        self.seq = -1
        self.nbytes_out = 0

    def reset(self, key: tuple[int, ...], seq: int) -> None:
        self.filled[:] = False
        self.n = 0
        self.key = key
        self.seq = seq
        self.nbytes_out = 0
        self.fd = -1
        self.n_fast = 0

    def add_slot(self, slot: int) -> None:
        """Count ``slot`` (already filled) as the next frame of the shard."""
        self.order[self.n] = slot
        self.filled[slot] = True
        self.n += 1

    def frames(self) -> np.ndarray:
        """Per-frame metadata in acquisition order."""
        return self.meta[self.order[: self.n]]

    def chunk(self, slot: int) -> np.ndarray:
        """The compressed bytes of ``slot`` (a view into ``out``)."""
        off = int(self.chunk_off[slot])
        return self.out[off : off + int(self.chunk_len[slot])]

    def journal_record(self, location: str) -> dict[str, Any]:
        m = self.frames()
        return {
            "event": "block",
            "seq": self.seq,
            "location": location,
            "bytes": int(self.nbytes_out),
            "frame": m["frame"].tolist(),
            "index": m["index"].tolist(),
            "timestamp_s": m["timestamp_s"].tolist(),
            "exposure_ms": m["exposure_ms"].tolist(),
            "z_um": m["z_um"].tolist(),
            **({"fast_codec": self.n_fast} if self.n_fast else {}),
        }


class Compressor:
    """The series' codec: blosc (c-blosc 1 format, what zarr's ``blosc`` codec and HDF5's Blosc
    filter read), zlib or zstd (TIFF), or "none".

    ``compress_block`` runs in worker threads and compresses every frame of a block into the
    block's preallocated ``out`` buffer with the GIL released (see ``_codecs``).
    """

    def __init__(self, compression: dict[str, Any], itemsize: int = 2) -> None:
        self.codec = compression["codec"]
        self.level = int(compression["level"])
        self.shuffle = 1 if compression.get("shuffle", True) else 0
        self.cname = {"blosc-lz4": b"lz4", "blosc-zstd": b"zstd"}.get(self.codec, b"")
        self.itemsize = int(itemsize)
        self._codec = (
            Codec(self.codec, self.level, bool(self.shuffle), self.itemsize)
            if (self.enabled)
            else None
        )

    @property
    def enabled(self) -> bool:
        return self.codec != "none"

    def bound(self, nbytes: int) -> int:
        """Output buffer bytes one frame of ``nbytes`` needs."""
        return bound(self.codec, nbytes) if self.enabled else 0

    def compress_into(self, frame: np.ndarray, out: np.ndarray) -> int:
        """Compress a C-contiguous ``frame`` into the uint8 array ``out``; returns the size."""
        assert self._codec is not None
        return self._codec.compress_into(frame, out)

    def compress_frame(self, frame: np.ndarray) -> bytes:
        """One compressed frame as bytes (tests and tools; the spool uses ``compress_block``)."""
        out = np.empty(self.bound(frame.nbytes), np.uint8)
        return out[: self.compress_into(np.ascontiguousarray(frame), out)].tobytes()

    def compress_block(self, block: Block, behind: Callable[[], bool] | None = None) -> None:
        """Every frame of ``block`` into ``block.out``.

        ``behind()`` is asked before each frame; while it says True the frame goes at the
        codec's fast level (blosc/zlib: stored as a copy in the codec's framing, which every
        reader decodes), so codecs that fall behind cost ratio, not frames.
        """
        codec = self._codec
        assert codec is not None
        raw, out = block.raw, block.out
        offset = 0
        n_fast = 0
        for i in range(block.n):
            slot = int(block.order[i])
            fast = behind is not None and behind()
            level = codec.fast_level if fast else codec.level
            n_fast += fast
            n = codec.compress_into(raw[slot], out[offset:], level)
            block.chunk_off[slot] = offset
            block.chunk_len[slot] = n
            offset += n
        block.nbytes_out = offset
        block.n_fast = n_fast

    def zarr_codec(self, itemsize: int) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        return {
            "name": "blosc",
            "configuration": {
                "cname": self.cname.decode(),
                "clevel": self.level,
                "shuffle": "shuffle" if self.shuffle else "noshuffle",
                "typesize": itemsize,
                "blocksize": 0,
            },
        }
