"""Byte layout of a frame ring segment, and numpy views over it.

::

    offset  size            content
    0       192             geometry: magic, layout version, n_slots, slot stride, data offset,
                            frame bytes, ndim, shape[8], dtype str, owner pid, reader slots
    192     64              frames_written (u64, monotonic), closed flag, writer-waiting flag
    256     64              notify word (u32 futex, bumped after every publish and on close)
    320     64 * n_slots    slot table: seq (u64 seqlock), index, timestamp_s, exposure_ms,
                            z_um, x_um, y_um
    ...     64 * 64         reader registry: state, pid, cursor, frames_lost, name[32]
    data    stride*n_slots  frame data, each slot page-aligned

Seqlock per slot: while frame ``i`` is written into slot ``i % n_slots`` its ``seq`` is
``2*i + 1``; once complete it is ``2*i + 2``. A reader of frame ``i`` checks ``seq == 2*i+2``
before and after copying; anything else means the frame is being overwritten or gone.
Every cross-process field is an aligned 8-byte word written by exactly one process.

Memory ordering: the writer stores seq (odd), data, metadata, seq (even), then the counter, and
readers load in the opposite order. On x86-64 (TSO: stores are seen in program order, loads are
not reordered with loads) that is a correct seqlock without explicit fences. On weakly ordered
CPUs (aarch64) fences would be needed between those steps; numpy stores have none, so a torn
frame could go unnoticed there. Only x86-64 is supported and tested for now.
"""

from __future__ import annotations

import os

import numpy as np

from labkit.buffers._errors import RingError
from labkit.buffers._shm import Segment

__all__ = ["META_FIELDS", "READER_SLOTS", "RingLayout"]

MAGIC = b"LABKRNG1"
LAYOUT_VERSION = 1
READER_SLOTS = 64  # registered readers per ring; more readers work but are not in stats()
MAX_NDIM = 8
META_FIELDS = ("timestamp_s", "exposure_ms", "z_um", "x_um", "y_um")
PAGE = 4096

_GEOMETRY = np.dtype(
    {
        "names": [
            "magic",
            "version",
            "ndim",
            "n_slots",
            "slot_stride",
            "data_offset",
            "frame_nbytes",
            "owner_pid",
            "n_readers",
            "dtype",
            "shape",
        ],
        "formats": [
            "S8",
            "<u4",
            "<u4",
            "<u8",
            "<u8",
            "<u8",
            "<u8",
            "<u8",
            "<u8",
            "S16",
            ("<u8", MAX_NDIM),
        ],
        "offsets": [0, 8, 12, 16, 24, 32, 40, 48, 56, 64, 80],
        "itemsize": 192,
    }
)
_SLOT = np.dtype(
    {
        "names": ["seq", "index", *META_FIELDS],
        "formats": ["<u8", "<i8", "<f8", "<f8", "<f8", "<f8", "<f8"],
        "offsets": [0, 8, 16, 24, 32, 40, 48],
        "itemsize": 64,
    }
)
_READER = np.dtype(
    {
        "names": ["state", "pid", "cursor", "frames_lost", "name"],
        "formats": ["<u8", "<u8", "<u8", "<u8", "S32"],
        "offsets": [0, 8, 16, 24, 32],
        "itemsize": 64,
    }
)
_COUNTER_OFFSET = 192
_NOTIFY_OFFSET = 256
_SLOTS_OFFSET = 320


def _round_up(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def check_dtype(dtype) -> np.dtype:
    """Return ``np.dtype(dtype)`` if a ring can hold it (plain numeric), else raise ``TypeError``."""
    dt = np.dtype(dtype)
    if dt.kind not in "biufc" or dt.hasobject or dt.fields is not None or dt.subdtype is not None:
        raise TypeError(
            f"a frame ring holds plain numeric frames (e.g. uint16, float32); got dtype {dt}"
        )
    return dt


class RingLayout:
    """Numpy views over one mapping of a ring segment. ``release()`` drops them all."""

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        buf = segment.buf
        if segment.size < _SLOTS_OFFSET:
            raise RingError(f"segment {segment.name!r} is too small to be a labkit frame ring")
        values = np.ndarray((), _GEOMETRY, buffer=buf, offset=0).item()
        geo = dict(zip(_GEOMETRY.names or (), values, strict=True))
        if geo["magic"] != MAGIC:
            raise RingError(
                f"segment {segment.name!r} is not a labkit frame ring (or is still being created)"
            )
        if geo["version"] != LAYOUT_VERSION:
            raise RingError(
                f"ring {segment.name!r} uses layout version {geo['version']}, this labkit reads "
                f"version {LAYOUT_VERSION}; use the same labkit version in every process"
            )
        ndim = int(geo["ndim"])
        self.shape: tuple[int, ...] = tuple(int(s) for s in geo["shape"][:ndim])
        self.dtype = np.dtype(geo["dtype"].decode())
        self.n_slots = int(geo["n_slots"])
        self.slot_stride = int(geo["slot_stride"])
        self.data_offset = int(geo["data_offset"])
        self.owner_pid = int(geo["owner_pid"])
        n_readers = int(geo["n_readers"])
        if self.data_offset + self.slot_stride * self.n_slots > segment.size:
            raise RingError(
                f"ring {segment.name!r} is truncated; its owner probably crashed while creating it"
            )
        # frames_written, closed, writer_waiting (set while the owner is in wait_for_readers)
        self.counters = np.ndarray((3,), "<u8", buffer=buf, offset=_COUNTER_OFFSET)
        self.notify = np.ndarray((1,), "<u4", buffer=buf, offset=_NOTIFY_OFFSET)
        self.notify_address = self.notify.ctypes.data
        self.slots = np.ndarray((self.n_slots,), _SLOT, buffer=buf, offset=_SLOTS_OFFSET)
        self.seq = self.slots["seq"]
        readers_offset = _SLOTS_OFFSET + _SLOT.itemsize * self.n_slots
        self.readers = np.ndarray((n_readers,), _READER, buffer=buf, offset=readers_offset)
        self.data = np.ndarray(
            (self.n_slots, *self.shape),
            self.dtype,
            buffer=buf,
            offset=self.data_offset,
            strides=(self.slot_stride, *_c_strides(self.shape, self.dtype.itemsize)),
        )

    @staticmethod
    def initialize(
        segment: Segment, shape: tuple[int, ...], dtype: np.dtype, n_slots: int, n_readers: int
    ) -> None:
        """Write the geometry into a fresh (zeroed) segment; the magic goes in last."""
        buf = segment.buf
        geo = np.ndarray((), _GEOMETRY, buffer=buf, offset=0)
        geo["version"] = LAYOUT_VERSION
        geo["ndim"] = len(shape)
        geo["n_slots"] = n_slots
        frame_nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        geo["frame_nbytes"] = frame_nbytes
        geo["slot_stride"] = _round_up(max(frame_nbytes, 1), PAGE)
        geo["data_offset"] = data_offset(n_slots, n_readers)
        geo["owner_pid"] = os.getpid()
        geo["n_readers"] = n_readers
        geo["dtype"] = dtype.str.encode()
        full_shape = np.zeros(MAX_NDIM, np.uint64)
        full_shape[: len(shape)] = shape
        geo["shape"] = full_shape
        geo["magic"] = MAGIC
        del geo

    def release(self) -> None:
        """Drop every view so the mapping can be unmapped."""
        for attr in ("counters", "notify", "slots", "seq", "readers", "data"):
            self.__dict__.pop(attr, None)


def data_offset(n_slots: int, n_readers: int) -> int:
    return _round_up(_SLOTS_OFFSET + _SLOT.itemsize * n_slots + _READER.itemsize * n_readers, PAGE)


def segment_size(shape: tuple[int, ...], dtype: np.dtype, n_slots: int, n_readers: int) -> int:
    frame_nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return data_offset(n_slots, n_readers) + _round_up(max(frame_nbytes, 1), PAGE) * n_slots


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides = []
    acc = itemsize
    for dim in reversed(shape):
        strides.append(acc)
        acc *= dim
    return tuple(reversed(strides))
