"""``Frame``: one frame read from a ring, and the seqlock read of a slot."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.buffers._layout import META_FIELDS, RingLayout

__all__ = ["META_DTYPE", "Frame", "SlotAccess", "meta_rows", "out_rows", "read_frame"]


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
META_FIELDS_ALL = ("index", *META_FIELDS)
_SMALL_COPY_BYTES = 64 * 1024  # frames up to this size are copied holding the GIL (a few µs)
_ALL = slice(None)  # made once: ``x[_ALL] = y`` allocates nothing
_META_OFFSET = 8  # bytes from the start of a slot header to its ``index`` word


def _as_bytes(array: np.ndarray) -> np.ndarray:
    """A flat uint8 view of a C-contiguous array."""
    return array.reshape(-1).view(np.uint8)


class SlotAccess:
    """The slots of one ring mapping as byte views, and the seqlock read every read goes through.

    The views (made once) keep the memory mapped for as long as this object lives, even after
    the ring is closed (the content is then meaningless). ``read`` copies between views made
    once (memoryview assignment, or ``np.copyto`` for frames over 64 KiB so the GIL is released
    during the copy), so a hot loop creates no array, dict or Frame per frame.
    """

    __slots__ = (
        "n_slots",
        "frame_nbytes",
        "views",
        "_seq",
        "_bytes",
        "_headers",
        "_data",
        "_scratch",
        "_scratch_bytes",
        "_small",
    )

    def __init__(self, layout: RingLayout) -> None:
        self.n_slots = layout.n_slots
        self._data = layout.data
        self.frame_nbytes = int(np.prod(layout.shape, dtype=np.int64)) * layout.dtype.itemsize
        self._seq = layout.seq.data  # item access gives a Python int, no numpy scalar
        self.views = [self._data[k] for k in range(self.n_slots)]
        for view in self.views:
            view.flags.writeable = False  # handed out by ``frame_view``: nobody writes the ring
        # small frames are copied by memoryview assignment (fastest, holds the GIL), larger
        # ones by np.copyto (releases the GIL during the copy); see ``target``
        self._small = self.frame_nbytes <= _SMALL_COPY_BYTES
        self._bytes = [self.target(_as_bytes(view)) for view in self.views]
        headers = layout.slots.view(np.uint8).reshape(self.n_slots, -1)
        self._headers = [
            headers[k, _META_OFFSET : _META_OFFSET + META_DTYPE.itemsize].data
            for k in range(self.n_slots)
        ]
        self._scratch = np.zeros((), META_DTYPE)
        self._scratch_bytes = _as_bytes(self._scratch).data

    def target(self, frame_bytes: np.ndarray) -> np.ndarray | memoryview:
        """What :meth:`read` copies pixels into, made once from a flat uint8 view of a frame."""
        return frame_bytes.data if self._small else frame_bytes

    def read(self, index: int, dst: Any, meta_dst: memoryview | None) -> bool:
        """The seqlock read of frame ``index``: its header (``META_DTYPE``, 48 bytes) into the
        byte memoryview ``meta_dst`` and its pixels into ``dst`` (``frame_nbytes``, made by
        :meth:`target`); None skips either. True if the slot held frame ``index`` before and
        after the copy (with ``dst`` None the caller checks :meth:`holds` again once done)."""
        slot = index % self.n_slots
        want = 2 * index + 2
        seq = self._seq
        if seq[slot] != want:
            return False
        if meta_dst is not None:
            meta_dst[_ALL] = self._headers[slot]
        if dst is not None:
            if self._small:
                dst[_ALL] = self._bytes[slot]
            else:
                np.copyto(dst, self._bytes[slot])
        return seq[slot] == want

    def holds(self, index: int) -> bool:
        """True if the ring slot of frame ``index`` still holds that frame, complete."""
        return self._seq[index % self.n_slots] == 2 * index + 2

    def frame(self, index: int, copy: bool = True, out: np.ndarray | None = None) -> Frame | None:
        """Frame ``index`` as a :class:`Frame` (a copy, ``out``, or a view with ``copy=False``);
        None if it is not (or no longer) intact."""
        if not copy:
            if not self.read(index, None, self._scratch_bytes):
                return None
            data = self._data[index % self.n_slots]  # a fresh (writable) view per Frame
            intact: Callable[[], bool] | None = functools.partial(self.holds, index)
        else:
            if out is None or not out.flags.c_contiguous:
                data = np.empty(self._data.shape[1:], self._data.dtype)
            else:
                data = out
            if not self.read(index, self.target(_as_bytes(data)), self._scratch_bytes):
                return None
            if out is not None and data is not out:  # a strided out: copied from our copy
                np.copyto(out, data)
                data = out
            intact = None
        row = self._scratch.item()  # (index, timestamp_s, exposure_ms, z_um, x_um, y_um)
        meta = dict(zip(META_FIELDS, row[1:], strict=True))
        return Frame(data, index, meta["timestamp_s"], meta, intact)


def read_frame(
    layout: RingLayout, index: int, copy: bool = True, out: np.ndarray | None = None
) -> Frame | None:
    """Read frame ``index`` with the seqlock; None if it is not (or no longer) intact.

    One-off convenience; readers keep a :class:`SlotAccess` and call ``frame`` on it.
    """
    return SlotAccess(layout).frame(index, copy, out)


def out_rows(
    out: np.ndarray, shape: tuple[int, ...], dtype: np.dtype
) -> tuple[list[np.ndarray], bool]:
    """Byte views of the frames ``out`` can receive, and whether it is a stack (needs ``row``).

    ``out`` is one frame (``shape``/``dtype``, or flat uint8 of the frame's bytes) or a stack
    of them along a new first axis, writable and C-contiguous. Raises ``ValueError`` naming
    the expected shape and dtype otherwise.
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    flat = (nbytes,)
    expected = (
        f"a writable C-contiguous {dtype} array of shape {shape} (or uint8 of shape {flat}); "
        f"with row=, a stack of them, shape (n, {', '.join(map(str, shape))})"
    )
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be {expected}; got {type(out).__name__}")
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"out must be {expected}; got a read-only or non-contiguous array")
    if (out.dtype == dtype and out.shape == shape) or (out.dtype == np.uint8 and out.shape == flat):
        return [_as_bytes(out)], False
    stack_of_frames = out.dtype == dtype and out.shape[1:] == shape
    stack_of_bytes = out.dtype == np.uint8 and out.shape[1:] == flat
    if out.ndim >= 1 and (stack_of_frames or stack_of_bytes):
        return list(out.view(np.uint8).reshape(len(out), nbytes)), True
    raise ValueError(f"out must be {expected}; got {out.dtype} {out.shape}")


def meta_rows(meta: np.ndarray) -> list[memoryview]:
    """Byte views of the 48 bytes ``index``..``y_um`` of each record of ``meta``.

    ``meta`` is a writable C-contiguous 0-d or 1-d structured array with the fields of
    ``META_DTYPE`` (same types) at consecutive offsets, possibly among others (the spool's
    records add ``frame`` before them). Raises ``ValueError`` otherwise.
    """
    expected = (
        "a writable C-contiguous structured array with fields index (int64), timestamp_s, "
        "exposure_ms, z_um, x_um, y_um (float64) at consecutive offsets, e.g. "
        "np.zeros(n, RingReader.meta_dtype)"
    )
    if not isinstance(meta, np.ndarray):
        raise ValueError(f"meta must be {expected}; got {type(meta).__name__}")
    fields: Mapping[str, tuple] = meta.dtype.fields or {}
    base = fields["index"][1] if "index" in fields else -1
    for k, name in enumerate(META_FIELDS_ALL):
        field = fields.get(name)
        if base < 0 or field is None or field[0] != META_DTYPE[name] or field[1] != base + 8 * k:
            raise ValueError(f"meta must be {expected}; got dtype {meta.dtype}")
    if meta.ndim > 1 or meta.size == 0:
        raise ValueError(f"meta must be {expected}, 0-d or 1-d; got shape {meta.shape}")
    if not (meta.flags.c_contiguous and meta.flags.writeable):
        raise ValueError(f"meta must be {expected}; got a read-only or non-contiguous array")
    records = meta.reshape(-1).view(np.uint8).reshape(meta.size, meta.dtype.itemsize)
    return [r.data for r in records[:, base : base + META_DTYPE.itemsize]]
