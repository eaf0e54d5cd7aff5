"""``RingReader``: one consumer of a ``FrameRing`` with its own cursor, in any process."""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from labkit.buffers import _futex
from labkit.buffers._errors import RingError
from labkit.buffers._frame import META_DTYPE, Frame, SlotAccess, meta_rows, out_rows
from labkit.buffers._layout import RingLayout
from labkit.buffers._registry import CURSOR, LOST, register, unregister
from labkit.buffers._ring import FrameRing

logger = logging.getLogger(__name__)

__all__ = ["RingReader"]

_OWNER_CHECK_S = 1.0  # how often a waiting reader checks that the owner process is alive
_LATEST_RETRIES = 100
_TARGET_CACHE = 8  # validated out/meta arrays of next_into remembered (per kind)
_NO_WAIT = -1.0


class RingReader:
    """A cursor into a ring. Create with ``ring.reader(name)`` or ``RingReader.attach(ring_name)``.

    The cursor is the index of the next frame :meth:`next` returns; it starts at the ring's
    current ``frames_written`` (only new frames). ``frames_lost`` counts frames this reader
    wanted but the writer overwrote first (never frames it skipped on purpose with
    :meth:`latest`). Readers are registered in the ring header, so the owner's
    ``ring.stats()`` reports their lag and losses (``registered`` is False, with a logged
    warning, if all 64 registry slots are taken: the reader still works). Not thread-safe: one
    thread per reader.
    """

    def __init__(self, ring: FrameRing, name: str = "", _own_ring: bool = False) -> None:
        self._ring = ring
        self._layout = ring._live_layout()
        self._own_ring = _own_ring
        self._cursor = int(self._layout.counters[0])
        self._slot = register(self._layout, name, self._cursor)
        self.registered = self._slot >= 0
        self.name = name or (f"reader{self._slot}" if self.registered else "unregistered")
        if self.registered:
            registry = self._layout.readers.view("<u8").reshape(len(self._layout.readers), -1)
            self._words = registry[self._slot]
            self._cursor_address = self._words.ctypes.data + CURSOR * 8  # low half: a futex word
        else:  # the ring's registry is full: keep the bookkeeping locally
            self._words = np.zeros(8, "<u8")
            self._cursor_address = 0
        self._frames_lost = 0
        self._slots: SlotAccess | None = SlotAccess(self._layout)
        # next_into targets validated once: id -> (array, byte view of each row, stacked)
        self._out_targets: dict[int, tuple[np.ndarray, list[Any], bool]] = {}
        self._meta_targets: dict[int, tuple[np.ndarray, list[Any], bool]] = {}
        self._owner_checked_at = time.monotonic()
        self._finalizer = weakref.finalize(
            self, unregister, self._words, os.getpid(), self._layout, self._slot
        )

    @classmethod
    def attach(cls, ring_name: str, name: str = "") -> RingReader:
        """Attach to ring ``ring_name`` and open a reader on it; ``close()`` closes both."""
        ring = FrameRing.attach(ring_name)
        try:
            return cls(ring, name, _own_ring=True)
        except BaseException:
            ring.close()
            raise

    # --- state -----------------------------------------------------------------------------
    @property
    def ring(self) -> FrameRing:
        """The ring this reader reads (shape, dtype, n_slots, stats())."""
        return self._ring

    @property
    def cursor(self) -> int:
        """Index of the next frame :meth:`next` returns."""
        return self._cursor

    @property
    def frames_lost(self) -> int:
        """Frames this reader wanted that were overwritten before it read them."""
        return self._frames_lost

    @property
    def lag(self) -> int:
        """Frames written that this reader has not read yet."""
        return max(0, int(self._live().counters[0]) - self._cursor)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or its ring was closed in this process)."""
        return not self._finalizer.alive

    def _live(self) -> RingLayout:
        if self.closed or self._ring.closed:
            raise RingError(
                f"reader {self.name!r} of ring {self._ring.name!r} is closed; open a new reader"
            )
        return self._layout

    def _move(self, cursor: int, lost: int = 0) -> None:
        self._cursor = cursor
        self._words[CURSOR] = cursor
        if lost:
            self._frames_lost += lost
            self._words[LOST] = self._frames_lost
        if self._cursor_address and self._layout.counters[2]:  # the owner waits for readers
            _futex.wake(self._cursor_address)

    def _check_out(self, out: np.ndarray | None, copy: bool) -> None:
        if out is not None and not copy:
            raise ValueError("out= copies into your array, so it needs copy=True (the default)")
        if out is not None and (out.shape != self._ring.shape or out.dtype != self._ring.dtype):
            raise ValueError(
                f"out must be a {self._ring.dtype} array of shape {self._ring.shape}, got {out.dtype} {out.shape}"
            )
        if out is not None and not out.flags.writeable:
            raise ValueError("out is read-only; pass a writable array")

    # --- reading ---------------------------------------------------------------------------
    #: dtype of one metadata row as ``next_into`` writes it (any structured dtype with these
    #: fields at consecutive offsets works too, e.g. the spool's per-frame records)
    meta_dtype = META_DTYPE

    def latest(self, copy: bool = True, out: np.ndarray | None = None) -> Frame | None:
        """The newest complete frame (None if none was written yet); moves the cursor past it.

        ``copy=False`` returns a zero-copy view (see ``Frame.is_intact``); ``out`` copies into
        a preallocated array of the ring's shape and dtype. Frames skipped are not "lost".
        Raises ``RingError`` once the owner closed the ring (e.g. the engine made a new ring
        for a new frame shape) or its process died, so a viewer never shows a stale frame
        without knowing.
        """
        layout = self._live()
        slots = self._slots
        assert slots is not None
        self._check_out(out, copy)
        self._check_source(layout, time.monotonic())
        for _ in range(_LATEST_RETRIES):
            written = int(layout.counters[0])
            if written == 0:
                return None
            frame = slots.frame(written - 1, copy=copy, out=out)
            if frame is not None:
                if written > self._cursor:
                    self._move(written)
                return frame
        raise RingError(
            f"ring {self._ring.name!r}: the writer overwrote the newest frame {_LATEST_RETRIES} times during the copy; use more slots"
        )

    def next(
        self, timeout: float | None = None, copy: bool = True, out: np.ndarray | None = None
    ) -> Frame:
        """The frame at the cursor, waiting up to ``timeout`` seconds (None: forever) for it.

        If the reader fell behind, it skips to the oldest frame still present and adds the
        skipped count to ``frames_lost``. Waiting sleeps on a futex (no busy-spin). Raises
        ``TimeoutError`` when nothing arrives in time and ``RingError`` when the owner closed
        the ring or died. For a loop that must not allocate per frame see :meth:`next_into`.
        """
        layout = self._live()
        slots = self._slots
        assert slots is not None
        self._check_out(out, copy)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            index = self._due(layout, deadline, timeout)
            frame = slots.frame(index, copy=copy, out=out)
            self._consumed(index, frame is not None)
            if frame is not None:
                return frame

    def next_into(
        self,
        out: np.ndarray,
        meta: np.ndarray | None = None,
        timeout: float | None = None,
        *,
        row: int | None = None,
    ) -> int:
        """Copy the frame at the cursor into ``out`` and its metadata into ``meta``; its index.

        Same waiting, skipping, ``frames_lost`` and errors as :meth:`next`, without creating a
        ``Frame``, a dict or an array per call: pixels and the slot header are copied between
        byte views made once per ``out``/``meta`` array (the reader keeps a reference to the
        last few arrays it was given, until ``close()``).

        ``out``: a writable C-contiguous array of the ring's shape and dtype, or a flat
        ``uint8`` array of ``ring.frame_nbytes``. With ``row=k``, ``out`` is a stack of such
        frames (shape ``(n, *ring.shape)`` or ``(n, frame_nbytes)`` uint8) and ``out[k]`` is
        filled. ``meta``: None, or a structured array with fields ``index`` (int64),
        ``timestamp_s``, ``exposure_ms``, ``z_um``, ``x_um``, ``y_um`` (float64) at consecutive
        offsets (``RingReader.meta_dtype``, or a wider record such as the spool's) — one
        record, or ``meta[k]`` with ``row=k``. On a torn read both may hold garbage; the next
        frame overwrites it before this returns. Raises ``ValueError`` (naming the expected
        shape and dtype) for a wrong ``out``/``meta``, ``IndexError`` for a ``row`` outside
        them, ``TimeoutError`` and ``RingError`` as :meth:`next`.
        """
        layout = self._live()
        dst = self._out_view(out, row)
        return self._next_raw(
            layout, dst, None if meta is None else self._meta_view(meta, row), timeout
        )

    def next_meta_into(
        self,
        meta: np.ndarray | None = None,
        timeout: float | None = None,
        *,
        row: int | None = None,
    ) -> int:
        """:meth:`next_into` without the pixel copy: the frame stays in its ring slot.

        Returns the frame index; ``frame_view(index)`` is the zero-copy pixels and
        ``is_intact(index)`` says, after you used them (e.g. wrote them to an O_DIRECT file),
        whether the writer overwrote the slot meanwhile (then discard what you made of them).
        """
        layout = self._live()
        return self._next_raw(
            layout, None, None if meta is None else self._meta_view(meta, row), timeout
        )

    def _next_raw(
        self,
        layout: RingLayout,
        dst: Any,
        meta_dst: memoryview | None,
        timeout: float | None,
    ) -> int:
        slots = self._slots
        assert slots is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            index = self._due(layout, deadline, timeout)
            ok = slots.read(index, dst, meta_dst)
            self._consumed(index, ok)
            if ok:
                return index

    def frame_view(self, index: int) -> np.ndarray:
        """Read-only zero-copy view of the ring slot of frame ``index`` (made once per slot,
        no allocation). Its content is frame ``index`` only while ``is_intact(index)``."""
        slots = self._slots
        if slots is None:
            raise RingError(f"reader {self.name!r} is closed; open a new reader")
        return slots.views[index % slots.n_slots]

    def is_intact(self, index: int) -> bool:
        """True if the ring slot of frame ``index`` still holds that frame, complete."""
        slots = self._slots
        return slots is not None and slots.holds(index)

    def _due(self, layout: RingLayout, deadline: float | None, timeout: float | None) -> int:
        """The index to read at the cursor (after skipping frames already overwritten, counted
        as lost), waiting until ``deadline`` for one; -1 if ``deadline`` is ``_NO_WAIT``."""
        while True:
            written = int(layout.counters[0])
            cursor = self._cursor
            if cursor < written:
                oldest = written - self._ring.n_slots
                if cursor < oldest:
                    self._move(oldest, lost=oldest - cursor)
                    return oldest
                return cursor
            if deadline == _NO_WAIT:
                return -1
            if not self._wait(layout, deadline):
                raise TimeoutError(
                    f"reader {self.name!r}: no new frame within {timeout} s (ring {self._ring.name!r} has "
                    f"{written} frames); is acquisition running?"
                )

    def _consumed(self, index: int, ok: bool) -> None:
        """Move the cursor past ``index``; a failed (torn or overwritten) read counts as lost."""
        self._move(index + 1, lost=0 if ok else 1)

    def _out_view(self, out: np.ndarray, row: int | None) -> Any:
        entry = self._out_targets.get(id(out))
        if entry is None or entry[0] is not out:
            rows, stacked = out_rows(out, self._ring.shape, self._ring.dtype)
            slots = self._slots
            assert slots is not None
            targets = [slots.target(r) for r in rows]
            entry = self._remember(self._out_targets, out, targets, stacked)
        _, rows, stacked = entry
        if row is None:
            if stacked:
                raise ValueError(
                    f"out is a stack of {len(rows)} frames: pass row= to say which one to fill"
                )
            return rows[0]
        if not stacked:
            raise ValueError(
                f"row={row} needs a stack of frames, shape (n, {', '.join(map(str, self._ring.shape))}); got one frame {out.shape}"
            )
        if not 0 <= row < len(rows):
            raise IndexError(f"row={row} is outside out's {len(rows)} frames")
        return rows[row]

    def _meta_view(self, meta: np.ndarray, row: int | None) -> memoryview:
        entry = self._meta_targets.get(id(meta))
        if entry is None or entry[0] is not meta:
            entry = self._remember(self._meta_targets, meta, meta_rows(meta), True)
        rows = entry[1]
        if row is None:
            if len(rows) != 1:
                raise ValueError(
                    f"meta holds {len(rows)} records: pass row= to say which one to fill"
                )
            return rows[0]
        if not 0 <= row < len(rows):
            raise IndexError(f"row={row} is outside meta's {len(rows)} records")
        return rows[row]

    @staticmethod
    def _remember(cache: dict, array: np.ndarray, rows: list[Any], stacked: bool) -> tuple:
        if len(cache) >= _TARGET_CACHE:
            del cache[next(iter(cache))]
        entry = (array, rows, stacked)
        cache[id(array)] = entry
        return entry

    def __iter__(self) -> Iterator[Frame]:
        """``for frame in reader:`` — :meth:`next` forever; ends when the owner closes the ring.

        Raises ``RingError`` if the owner dies (a crash is not a normal end).
        """
        while True:
            try:
                yield self.next()
            except RingError:
                if not self.closed and not self._ring.closed and self._layout.counters[1]:
                    return
                raise

    def drain(self, max_frames: int | None = None, copy: bool = True) -> tuple[list[Frame], int]:
        """All frames after the cursor (at most ``max_frames``) without waiting, and how many were lost."""
        layout = self._live()
        slots = self._slots
        assert slots is not None
        frames: list[Frame] = []
        lost_before = self._frames_lost
        while max_frames is None or len(frames) < max_frames:
            index = self._due(layout, _NO_WAIT, 0)
            if index < 0:
                break
            frame = slots.frame(index, copy=copy)
            self._consumed(index, frame is not None)
            if frame is not None:
                frames.append(frame)
        return frames, self._frames_lost - lost_before

    def read(self, start: int, stop: int, copy: bool = True) -> tuple[list[Frame], int]:
        """Frames ``start <= index < stop`` that are still intact, and the count that was lost.

        Random access: the cursor and ``frames_lost`` are not changed. Indices not written yet
        are neither returned nor counted lost.
        """
        if start < 0 or stop < start:
            raise ValueError(f"read(start, stop) needs 0 <= start <= stop, got ({start}, {stop})")
        layout = self._live()
        slots = self._slots
        assert slots is not None
        stop = min(stop, int(layout.counters[0]))
        frames: list[Frame] = []
        lost = 0
        for index in range(start, stop):
            frame = slots.frame(index, copy=copy)
            if frame is None:
                lost += 1
            else:
                frames.append(frame)
        return frames, lost

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until a frame after the cursor exists; False on timeout. Raises ``RingError`` if the owner is gone."""
        layout = self._live()
        return self._wait(layout, None if timeout is None else time.monotonic() + timeout)

    def _check_source(self, layout: RingLayout, now: float) -> None:
        """Raise ``RingError`` if the owner closed the ring or (checked once a second) died."""
        if layout.counters[1]:
            raise RingError(
                f"ring {self._ring.name!r} was closed by its owner; open a reader on the new ring "
                "(e.g. scope.open_reader again)"
            )
        if not self._ring.owner and now - self._owner_checked_at >= _OWNER_CHECK_S:
            self._owner_checked_at = now
            if not self._ring.owner_alive():
                raise RingError(
                    f"the owner (pid {self._ring.owner_pid}) of ring {self._ring.name!r} died; "
                    "restart the engine and open a new reader"
                )

    def _wait(self, layout: RingLayout, deadline: float | None) -> bool:
        notify = layout.notify  # a local reference keeps the mapping alive while we sleep
        counters = layout.counters
        while True:
            word = int(notify[0])
            if int(counters[0]) > self._cursor:
                return True
            now = time.monotonic()
            self._check_source(layout, now)
            if deadline is not None and now >= deadline:
                return False
            chunk = _OWNER_CHECK_S if deadline is None else min(deadline - now, _OWNER_CHECK_S)
            _futex.wait(layout.notify_address, word, chunk)
            if self.closed or self._ring.closed:
                raise RingError(f"reader {self.name!r} was closed while waiting")

    # --- closing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Unregister from the ring header (and close the ring if opened by ``attach``). Idempotent."""
        if self.closed:
            return
        if not self._ring.closed:
            self._finalizer()
        else:
            self._finalizer.detach()
        self._words = None  # type: ignore[assignment]
        self._slots = None
        self._out_targets.clear()
        self._meta_targets.clear()
        if self._own_ring:
            self._ring.close()

    def __enter__(self) -> RingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RingReader {self.name!r} of {self._ring.name} cursor={self._cursor} lost={self._frames_lost}>"
