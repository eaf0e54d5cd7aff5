"""Preallocated shard buffers that travel reader -> compressor -> writer and back to the pool."""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.spool._layout import FRAME_META, Layout


class Block:
    """One shard being assembled: raw pixels, per-frame metadata and compressed chunks by slot.

    All arrays are allocated once per spool; ``reset`` reuses them for the next shard.
    """

    __slots__ = ("raw", "meta", "filled", "order", "chunks", "n", "key", "seq", "nbytes_out", "fd")

    def __init__(self, layout: Layout, with_pixels: bool = True) -> None:
        cap = layout.slots_per_shard
        if with_pixels:
            self.raw = np.empty((cap, *layout.frame_shape), dtype=layout.dtype)
            self.raw.reshape(-1)[::4096] = 0  # touch pages now, not on the hot path
        else:  # direct mode: frames go from the ring slot straight into the shard file
            self.raw = np.empty((cap, 0, 0), dtype=layout.dtype)
        self.fd = -1
        self.meta = np.zeros(cap, dtype=FRAME_META)
        self.filled = np.zeros(cap, dtype=bool)
        self.order = np.zeros(cap, dtype=np.int64)  # slots in acquisition order
        self.chunks: list[Any] = [None] * cap
        self.n = 0
        self.key: tuple[int, ...] = ()
        self.seq = -1
        self.nbytes_out = 0

    def reset(self, key: tuple[int, ...], seq: int) -> None:
        self.filled[:] = False
        for i in range(self.n):
            self.chunks[int(self.order[i])] = None
        self.n = 0
        self.key = key
        self.seq = seq
        self.nbytes_out = 0
        self.fd = -1

    def add_slot(self, slot: int) -> np.ndarray:
        """Reserve ``slot`` for the next frame; returns the pixel array to fill."""
        self.order[self.n] = slot
        self.filled[slot] = True
        self.n += 1
        return self.raw[slot]

    def frames(self) -> np.ndarray:
        """Per-frame metadata in acquisition order."""
        return self.meta[self.order[: self.n]]

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
        }


class Compressor:
    """Blosc (c-blosc 1 via numcodecs, the format zarr's ``blosc`` codec reads) per frame.

    Called from worker threads; numcodecs uses a private blosc context there and releases
    the GIL while compressing.
    """

    def __init__(self, compression: dict[str, Any]) -> None:
        self.codec = compression["codec"]
        self.level = int(compression["level"])
        self.shuffle = 1 if compression.get("shuffle", True) else 0
        self.cname = {"blosc-lz4": b"lz4", "blosc-zstd": b"zstd"}.get(self.codec, b"")

    @property
    def enabled(self) -> bool:
        return self.codec != "none"

    def compress_frame(self, frame: np.ndarray) -> bytes:
        from numcodecs import blosc

        return blosc.compress(frame, self.cname, self.level, self.shuffle, 0)

    def compress_block(self, block: Block) -> None:
        total = 0
        for i in range(block.n):
            slot = int(block.order[i])
            data = self.compress_frame(block.raw[slot])
            block.chunks[slot] = data
            total += len(data)
        block.nbytes_out = total

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
