"""``RingReader``: one consumer of a ``FrameRing`` with its own cursor, in any process."""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterator

import numpy as np

from labkit.buffers import _futex
from labkit.buffers._errors import RingError
from labkit.buffers._frame import Frame, read_frame
from labkit.buffers._layout import RingLayout
from labkit.buffers._registry import CURSOR, LOST, register, unregister
from labkit.buffers._ring import FrameRing
from labkit.buffers._shm import pid_alive

logger = logging.getLogger(__name__)

__all__ = ["RingReader"]

_OWNER_CHECK_S = 1.0  # how often a waiting reader checks that the owner process is alive
_LATEST_RETRIES = 100


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
        self._owner_checked_at = time.monotonic()
        self._finalizer = weakref.finalize(self, unregister, self._words, os.getpid())

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

    # --- reading ---------------------------------------------------------------------------
    def latest(self, copy: bool = True, out: np.ndarray | None = None) -> Frame | None:
        """The newest complete frame (None if none was written yet); moves the cursor past it.

        ``copy=False`` returns a zero-copy view (see ``Frame.is_intact``); ``out`` copies into
        a preallocated array of the ring's shape and dtype. Frames skipped are not "lost".
        Raises ``RingError`` once the owner closed the ring (e.g. the engine made a new ring
        for a new frame shape) or its process died, so a viewer never shows a stale frame
        without knowing.
        """
        layout = self._live()
        self._check_out(out, copy)
        self._check_source(layout, time.monotonic())
        for _ in range(_LATEST_RETRIES):
            written = int(layout.counters[0])
            if written == 0:
                return None
            frame = read_frame(layout, written - 1, copy=copy, out=out)
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
        the ring or died.
        """
        layout = self._live()
        self._check_out(out, copy)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            written = int(layout.counters[0])
            if self._cursor < written:
                frame = self._read_at_cursor(layout, written, copy, out)
                if frame is not None:
                    return frame
                continue
            if not self._wait(layout, deadline):
                raise TimeoutError(
                    f"reader {self.name!r}: no new frame within {timeout} s (ring {self._ring.name!r} has "
                    f"{written} frames); is acquisition running?"
                )

    def _read_at_cursor(self, layout: RingLayout, written: int, copy: bool, out) -> Frame | None:
        oldest = max(0, written - self._ring.n_slots)
        if self._cursor < oldest:
            self._move(oldest, lost=oldest - self._cursor)
        frame = read_frame(layout, self._cursor, copy=copy, out=out)
        if frame is None:  # overwritten before or during the copy
            self._move(self._cursor + 1, lost=1)
            return None
        self._move(self._cursor + 1)
        return frame

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
        frames: list[Frame] = []
        lost_before = self._frames_lost
        while max_frames is None or len(frames) < max_frames:
            written = int(layout.counters[0])
            if self._cursor >= written:
                break
            frame = self._read_at_cursor(layout, written, copy, None)
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
        stop = min(stop, int(layout.counters[0]))
        frames: list[Frame] = []
        lost = 0
        for index in range(start, stop):
            frame = read_frame(layout, index, copy=copy)
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
            if not pid_alive(self._ring.owner_pid):
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
        if self._own_ring:
            self._ring.close()

    def __enter__(self) -> RingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RingReader {self.name!r} of {self._ring.name} cursor={self._cursor} lost={self._frames_lost}>"
