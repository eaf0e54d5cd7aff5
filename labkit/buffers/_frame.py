"""``Frame``: one frame read from a ring, and the seqlock read of a slot."""

from __future__ import annotations

import functools
from collections.abc import Callable
from ctypes import memmove
from dataclasses import dataclass, field

import numpy as np

from labkit.buffers._layout import META_FIELDS, RingLayout

__all__ = ["META_DTYPE", "Frame", "SlotAccess", "read_frame"]


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame and its metadata.

    ``data`` is a private copy by default. Frames read with ``copy=False`` are zero-copy
    views into the ring slot (``is_view`` is True). The contract for views: the writer may
    overwrite the slot at any time (after ``n_slots`` more frames), and nothing stops it. Use the
    data, then call :meth:`is_intact`; if it returns False the slot was (or is being)
    overwritten and what you computed from ``data`` must be thrown away. Take a copy
    (``frame.copy()``) to keep a frame. Views keep the mapping alive, so holding one past
    ``ring.close()`` never crashes, but its content is then meaningless.

    ``meta`` holds ``timestamp_s`` (time.time() of the frame), ``exposure_ms``, ``z_um``,
    ``x_um``, ``y_um`` (NaN when the writer did not give them).
    """

    data: np.ndarray
    index: int
    timestamp_s: float
    meta: dict[str, float]
    _intact: Callable[[], bool] | None = field(default=None, repr=False)

    @property
    def is_view(self) -> bool:
        """True if ``data`` is a zero-copy view into the ring (see :meth:`is_intact`)."""
        return self._intact is not None

    def is_intact(self) -> bool:
        """True if ``data`` still holds frame ``index``; always True for copies."""
        return True if self._intact is None else self._intact()

    def __repr__(self) -> str:
        meta = ", ".join(
            f"{k}={v:g}" for k, v in self.meta.items() if k != "timestamp_s" and v == v
        )
        kind = "view" if self.is_view else "copy"
        return (
            f"<Frame {self.index} {self.data.dtype}{list(self.data.shape)} {kind} t={self.timestamp_s:.6f} {meta}".rstrip()
            + ">"
        )

    def copy(self) -> Frame:
        """A frame owning a copy of the data. Raises ``BufferError`` if a view was already overwritten."""
        data = self.data.copy()
        if not self.is_intact():
            raise BufferError(
                f"frame {self.index} was overwritten in the ring before it was copied"
            )
        return Frame(data, self.index, self.timestamp_s, dict(self.meta))


#: the metadata words of a ring slot header, in order (48 bytes after the seqlock word); a
#: structured array with these fields at consecutive offsets can receive them in one copy
META_DTYPE = np.dtype(
    {
        "names": ["index", *META_FIELDS],
        "formats": ["<i8", "<f8", "<f8", "<f8", "<f8", "<f8"],
        "offsets": [0, 8, 16, 24, 32, 40],
        "itemsize": 48,
    }
)
_META_OFFSET = 8  # bytes from the start of a slot header to its ``index`` word


class SlotAccess:
    """Raw access to the slots of one ring mapping: the seqlock read, shared by every read.

    Holds numpy views of the mapping, so the memory stays mapped (never a dangling address)
    for as long as this object lives, even after the ring is closed; its content is then
    meaningless. ``read`` takes raw addresses so a hot loop creates no array per frame.
    """

    __slots__ = (
        "n_slots",
        "frame_nbytes",
        "views",
        "_seq",
        "_data",
        "_slots",
        "_data_addr",
        "_stride",
        "_meta_addr",
        "_scratch",
    )

    def __init__(self, layout: RingLayout) -> None:
        self.n_slots = layout.n_slots
        self._data = layout.data
        self._slots = layout.slots
        self.frame_nbytes = int(np.prod(layout.shape, dtype=np.int64)) * layout.dtype.itemsize
        self._seq = memoryview(layout.seq)  # item access gives a Python int, no numpy scalar
        self._data_addr = int(self._data.ctypes.data)
        self._stride = layout.slot_stride
        self._meta_addr = int(self._slots.ctypes.data) + _META_OFFSET
        self.views = [self._data[k] for k in range(self.n_slots)]  # zero-copy, made once
        for view in self.views:
            view.flags.writeable = False  # handed out by ``frame_view``: nobody writes the ring
        self._scratch = np.zeros((), META_DTYPE)

    def read(self, index: int, dst: int, meta_dst: int) -> bool:
        """The seqlock read of frame ``index``: its 48 metadata bytes (``META_DTYPE``) to
        address ``meta_dst`` and its pixels (``frame_nbytes``) to address ``dst``; 0 skips
        either. True if the slot held frame ``index`` before and after the copy (with
        ``dst == 0`` the caller checks :meth:`holds` again once it is done with the slot)."""
        slot = index % self.n_slots
        want = 2 * index + 2
        seq = self._seq
        if seq[slot] != want:
            return False
        if meta_dst:
            memmove(meta_dst, self._meta_addr + slot * 64, 48)
        if dst:
            memmove(dst, self._data_addr + slot * self._stride, self.frame_nbytes)
        return seq[slot] == want

    def holds(self, index: int) -> bool:
        """True if the ring slot of frame ``index`` still holds that frame, complete."""
        return self._seq[index % self.n_slots] == 2 * index + 2

    def frame(self, index: int, copy: bool = True, out: np.ndarray | None = None) -> Frame | None:
        """Frame ``index`` as a :class:`Frame` (a copy, ``out``, or a view with ``copy=False``);
        None if it is not (or no longer) intact."""
        scratch = self._scratch
        meta_dst = scratch.ctypes.data
        if not copy:
            if not self.read(index, 0, meta_dst):
                return None
            data = self._data[index % self.n_slots]  # a fresh view per Frame
            intact: Callable[[], bool] | None = functools.partial(self.holds, index)
        else:
            if out is None or not out.flags.c_contiguous:
                data = np.empty(self._data.shape[1:], self._data.dtype)
            else:
                data = out
            if not self.read(index, data.ctypes.data, meta_dst):
                return None
            if out is not None and data is not out:  # a strided out: copied from our copy
                np.copyto(out, data)
                data = out
            intact = None
        row = scratch.item()  # (index, timestamp_s, exposure_ms, z_um, x_um, y_um)
        meta = dict(zip(META_FIELDS, row[1:], strict=True))
        return Frame(data, index, meta["timestamp_s"], meta, intact)


def read_frame(
    layout: RingLayout, index: int, copy: bool = True, out: np.ndarray | None = None
) -> Frame | None:
    """Read frame ``index`` with the seqlock; None if it is not (or no longer) intact.

    One-off convenience; readers keep a :class:`SlotAccess` and call ``frame`` on it.
    """
    return SlotAccess(layout).frame(index, copy, out)
