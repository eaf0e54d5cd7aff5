"""``Frame``: one frame read from a ring, and the seqlock read of a slot."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from labkit.buffers._layout import META_FIELDS, RingLayout

__all__ = ["Frame", "read_frame"]


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


def _slot_holds(seq: np.ndarray, slot: int, want: int) -> bool:
    return int(seq[slot]) == want


def read_frame(
    layout: RingLayout, index: int, copy: bool = True, out: np.ndarray | None = None
) -> Frame | None:
    """Read frame ``index`` with the seqlock; None if it is not (or no longer) intact."""
    slot = index % layout.n_slots
    want = 2 * index + 2
    seq = layout.seq
    if int(seq[slot]) != want:
        return None
    row = layout.slots[slot].tolist()  # (seq, index, timestamp_s, exposure_ms, z_um, x_um, y_um)
    src = layout.data[slot]
    if not copy:
        data = src
    elif out is None:
        data = src.copy()
    else:
        np.copyto(out, src)
        data = out
    if int(seq[slot]) != want:
        return None
    meta = dict(zip(META_FIELDS, row[2:], strict=True))
    intact = None if copy else functools.partial(_slot_holds, seq, slot, want)
    return Frame(data, index, meta["timestamp_s"], meta, intact)
