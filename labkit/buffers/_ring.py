"""``FrameRing``: fixed frame slots in POSIX shared memory, one writer, any number of readers."""

from __future__ import annotations

import logging
import math
import platform
import threading
import time
import weakref
from typing import TYPE_CHECKING

import numpy as np

from labkit.buffers import _futex, _locks
from labkit.buffers._errors import RingError
from labkit.buffers._layout import (
    META_FIELDS,
    READER_SLOTS,
    RingLayout,
    check_dtype,
    segment_size,
)
from labkit.buffers._registry import min_cursor, reclaim_dead_readers, registry_stats
from labkit.buffers._shm import (
    Segment,
    attach_when_ready,
    new_segment_name,
    sweep_stale_segments,
)

if TYPE_CHECKING:
    from labkit.buffers._reader import RingReader

logger = logging.getLogger(__name__)

__all__ = ["FrameRing", "FrameSlot"]


def check_meta(meta: dict) -> dict[str, float]:
    """Validate per-frame metadata keys/values; raises ``TypeError`` naming the allowed keys."""
    unknown = sorted(set(meta) - set(META_FIELDS))
    if unknown:
        raise TypeError(
            f"unknown frame metadata {', '.join(map(repr, unknown))}; a ring slot stores only "
            f"{', '.join(META_FIELDS)} (the frame index is assigned by the ring)"
        )
    values: dict[str, float] = {}
    for key, value in meta.items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"frame metadata {key}={value!r} must be a number") from exc
    return values


class _Meta(dict):
    """The ``meta`` dict of a claimed slot: rejects unknown keys as they are set."""

    def __setitem__(self, key, value) -> None:
        super().update(check_meta({key: value}))

    def update(self, *args, **kwargs) -> None:
        super().update(check_meta(dict(*args, **kwargs)))


class FrameSlot:
    """A claimed slot: fill ``array`` in place and ``meta``; published when the ``with`` ends."""

    def __init__(self, array: np.ndarray, index: int) -> None:
        self.array = array
        self.index = index
        self.meta: dict[str, float] = _Meta()


class _Claim:
    """Context manager returned by ``FrameRing.claim()`` (a class: cheaper than a generator)."""

    __slots__ = ("_ring", "_layout", "_slot")

    def __init__(self, ring: FrameRing) -> None:
        self._ring = ring

    def __enter__(self) -> FrameSlot:
        ring = self._ring
        layout = self._layout = ring._acquire_write()
        try:
            index = ring._begin(layout)
        except BaseException:
            ring._write_lock.release()
            raise
        self._slot = FrameSlot(layout.data[index % ring.n_slots], index)
        return self._slot

    def __exit__(self, exc_type, exc, tb) -> None:
        slot = self._slot
        try:
            if exc_type is None:
                self._ring._publish(self._layout, slot.index, dict(slot.meta))
        finally:
            slot.array = None  # type: ignore[assignment]
            self._ring._write_lock.release()


def _close_ring(layout: RingLayout, segment: Segment, owner: bool) -> None:
    if owner and segment.owned_here and "counters" in layout.__dict__:
        layout.counters[1] = 1  # tell readers in other processes
        np.add(layout.notify, 1, out=layout.notify)  # uint32 wraps silently
        _futex.wake(layout.notify_address)
    layout.release()
    segment.close()


class FrameRing:
    """A ring of ``n_slots`` frames of one shape and dtype in shared memory.

    Create with :meth:`create` (the owner: the only writer; unlinks the segment on close) or
    :meth:`attach` (any process; reads only; never unlinks). Frames get a monotonic index;
    readers (:meth:`reader`) each keep their own cursor and are told how many frames they lost.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, segment: Segment, layout: RingLayout, owner: bool) -> None:
        self._segment = segment
        self._layout = layout
        self.owner = owner
        self.name = segment.name
        self.shape = layout.shape
        self.dtype = layout.dtype
        self.n_slots = layout.n_slots
        self._write_lock = threading.Lock()
        self._readers: weakref.WeakSet[RingReader] = weakref.WeakSet()
        self._finalizer = weakref.finalize(self, _close_ring, layout, segment, owner)

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def create(cls, shape, dtype, n_slots: int = 32, name: str | None = None) -> FrameRing:
        """Create a ring owned by this process (first sweeping segments of dead owners).

        ``shape`` is the frame shape (e.g. ``(2048, 2048)``), ``dtype`` a numeric dtype,
        ``n_slots`` ≥ 2. ``name`` defaults to ``labkit-<pid>-<token>``. Raises ``ValueError``
        for a bad geometry, ``TypeError`` for a non-numeric dtype, ``RingError`` if /dev/shm is
        too small or the name is taken.
        """
        shape = tuple(int(s) for s in (shape if isinstance(shape, tuple | list) else (shape,)))
        dt = check_dtype(dtype)
        if not 1 <= len(shape) <= 8 or any(s <= 0 for s in shape):
            raise ValueError(f"frame shape must have 1 to 8 positive dimensions, got {shape}")
        if int(n_slots) < 2:
            raise ValueError(f"a ring needs at least 2 slots, got n_slots={n_slots}")
        n_slots = int(n_slots)
        sweep_stale_segments()
        segment = Segment.create(
            name or new_segment_name(), segment_size(shape, dt, n_slots, READER_SLOTS)
        )
        try:
            RingLayout.initialize(segment, shape, dt, n_slots, READER_SLOTS)
            layout = RingLayout(segment)
        except BaseException:
            segment.close()
            raise
        logger.debug("created ring %s: %d × %s %s", segment.name, n_slots, shape, dt)
        if platform.machine().lower() not in ("x86_64", "amd64"):
            logger.warning(
                "ring %s: torn-frame detection assumes x86-64 memory ordering; on %s a frame "
                "overwritten during a read may go unnoticed (see labkit/buffers/_layout.py)",
                segment.name,
                platform.machine(),
            )
        return cls(segment, layout, owner=True)

    @classmethod
    def attach(cls, name: str) -> FrameRing:
        """Map the ring ``name`` created by another process (or this one). Never unlinks it.

        Raises ``RingError`` if no such ring exists or it is not a labkit ring.
        """
        return attach_when_ready(name, lambda seg: cls(seg, RingLayout(seg), owner=False))

    # --- state -----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once this process closed its handle (see ``owner_closed`` for the owner)."""
        return not self._finalizer.alive

    @property
    def frames_written(self) -> int:
        """Number of frames published so far (the next frame gets this index)."""
        return int(self._live_layout().counters[0])

    @property
    def owner_closed(self) -> bool:
        """True once the owner closed the ring (seen from an attached process)."""
        return bool(self._live_layout().counters[1])

    @property
    def owner_pid(self) -> int:
        """Pid of the process that created (and writes) the ring."""
        return self._layout.owner_pid

    @property
    def frame_nbytes(self) -> int:
        """Bytes of one frame."""
        return int(math.prod(self.shape)) * self.dtype.itemsize

    def _live_layout(self) -> RingLayout:
        if self.closed:
            raise RingError(
                f"ring {self.name!r} is closed in this process; attach again to read it"
            )
        return self._layout

    # --- writing ---------------------------------------------------------------------------
    def _check_frame(self, frame) -> np.ndarray:
        if not isinstance(frame, np.ndarray):
            raise TypeError(
                f"ring {self.name!r} expects a numpy array {self.dtype} {self.shape}, got {type(frame).__name__}"
            )
        if frame.shape != self.shape or frame.dtype != self.dtype:
            raise ValueError(
                f"ring {self.name!r} holds {self.dtype} frames of shape {self.shape}; got {frame.dtype} "
                f"{frame.shape}. Convert with frame.astype({str(self.dtype)!r}) or create a ring of that geometry"
            )
        return frame

    def _acquire_write(self) -> RingLayout:
        """Check this process may write, take the write lock; returns the layout."""
        layout = self._live_layout()
        if not self._segment.owned_here:
            raise RingError(
                f"ring {self.name!r} is attached, not owned (or inherited by a fork): only its owner "
                f"(pid {self.owner_pid}) writes"
            )
        if not self._write_lock.acquire(blocking=False):
            raise RingError(
                f"another write or claim is in progress on ring {self.name!r}; write from one thread at a time"
            )
        return layout

    def _begin(self, layout: RingLayout) -> int:
        index = int(layout.counters[0])
        layout.seq[index % self.n_slots] = 2 * index + 1  # odd: slot being written
        return index

    def _publish(self, layout: RingLayout, index: int, meta: dict[str, float]) -> None:
        slot = index % self.n_slots
        nan = math.nan
        layout.slots[slot] = (
            2 * index + 1,
            index,
            meta.get("timestamp_s", time.time()),
            meta.get("exposure_ms", nan),
            meta.get("z_um", nan),
            meta.get("x_um", nan),
            meta.get("y_um", nan),
        )
        layout.seq[slot] = 2 * index + 2
        layout.counters[0] = index + 1
        notify = layout.notify
        notify[0] = (int(notify[0]) + 1) & 0xFFFFFFFF
        _futex.wake(layout.notify_address)

    def write(self, frame: np.ndarray, **meta: float) -> int:
        """Copy ``frame`` into the next slot and publish it; returns its frame index.

        ``meta`` keys: ``timestamp_s`` (default: now), ``exposure_ms``, ``z_um``, ``x_um``,
        ``y_um``. Raises ``TypeError`` for other keys, ``ValueError`` for a wrong shape/dtype
        (nothing is written), ``RingError`` if this process does not own the ring.
        """
        values = check_meta(meta)
        frame = self._check_frame(frame)
        layout = self._acquire_write()
        try:
            index = self._begin(layout)
            np.copyto(layout.data[index % self.n_slots], frame)
            self._publish(layout, index, values)
        finally:
            self._write_lock.release()
        return index

    def claim(self) -> _Claim:
        """Zero-copy write: ``with ring.claim() as slot: camera.render_into(slot.array)``.

        The frame is published when the block ends. If the block raises, nothing is
        published and the frame that was in the slot is gone (readers count it lost).
        """
        return _Claim(self)

    # --- reading ---------------------------------------------------------------------------
    def reader(self, name: str = "") -> RingReader:
        """A new reader with its own cursor at the next frame, registered in the ring header."""
        from labkit.buffers._reader import RingReader

        reader = RingReader(self, name)
        self._readers.add(reader)
        return reader

    def stats(self) -> dict:
        """``{frames_written, n_slots, fill, readers: {name: {lag, frames_lost, cursor, pid}}}``.

        Covers readers in every process. ``fill`` is the largest reader lag over ``n_slots``
        (1.0 means a reader is losing frames). ``frames_lost`` includes frames already
        overwritten that the reader has not noticed yet. Dead readers' slots are reclaimed.
        """
        layout = self._live_layout()
        written = int(layout.counters[0])
        readers, max_lag = registry_stats(layout)
        return {
            "name": self.name,
            "frames_written": written,
            "n_slots": self.n_slots,
            "fill": min(1.0, max_lag / self.n_slots),
            "readers": readers,
        }

    def min_reader_cursor(self) -> int | None:
        """The smallest cursor of the registered readers (None if there are none).

        Cheap (no process checks). A producer that must not lose frames, e.g. a file replay or
        a benchmark, can wait while ``frames_written - min_reader_cursor() >= n_slots - 1``.
        """
        return min_cursor(self._live_layout())

    def wait_for_readers(self, max_lag: int, timeout: float | None = None) -> bool:
        """Block until every registered reader is at most ``max_lag`` frames behind.

        For producers that must not lose frames (file replay, tests, benchmarks): call it
        before each write with ``max_lag <= n_slots - 2``. Sleeps on a futex on the slowest
        reader's cursor (readers wake it as they advance). Returns True at once without
        readers, False after ``timeout`` seconds. Readers of dead processes are reclaimed.
        """
        layout = self._live_layout()
        registry = layout.readers.view("<u8").reshape(len(layout.readers), -1)
        deadline = None if timeout is None else time.monotonic() + timeout
        next_reclaim = time.monotonic() + 1.0
        layout.counters[2] = 1
        try:
            while True:
                used = np.flatnonzero(registry[:, 0])
                if used.size == 0:
                    return True
                slowest = int(used[np.argmin(registry[used, 2])])
                cursor = int(registry[slowest, 2])
                if int(layout.counters[0]) - cursor <= max_lag:
                    return True
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return False
                if now >= next_reclaim:
                    next_reclaim = now + 1.0
                    reclaim_dead_readers(layout)
                address = registry.ctypes.data + slowest * registry.strides[0] + 2 * 8
                # short chunks: a wake-up missed between our flag and its cursor costs <= 5 ms
                wait_s = 0.005 if deadline is None else min(0.005, deadline - now)
                _futex.wait(address, cursor & 0xFFFFFFFF, wait_s)
        finally:
            layout.counters[2] = 0

    def owner_alive(self) -> bool:
        """True if the owner still holds the ring (its lock on the segment) and did not close it."""
        if self.owner:
            return not self.closed
        return not self.owner_closed and self._segment.is_held(_locks.OWNER_BYTE)

    # --- closing ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close this process's mapping (owner: also tell readers and unlink). Idempotent.

        Readers opened from this object are closed too. Zero-copy frames still held keep
        their memory mapped until they are freed.
        """
        if self.closed:
            return
        for reader in list(self._readers):
            reader.close()
        self._finalizer()

    def __enter__(self) -> FrameRing:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.frames_written} frames written"
        role = "owner" if self.owner else f"attached, owner pid {self.owner_pid}"
        return f"<FrameRing {self.name} {self.n_slots}×{self.dtype}{list(self.shape)} ({role}; {state})>"

    def __getstate__(self):
        raise TypeError(
            f"a FrameRing cannot be pickled; pass its name ({self.name!r}) and FrameRing.attach it"
        )
