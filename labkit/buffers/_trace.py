"""``TraceBuffer``: rows of float64 (timestamp + channels) in a shared-memory circular buffer.

Layout: a 4 KiB header (magic, version, n_channels, capacity, owner pid, channel names as
JSON, and two row counters) followed by ``capacity`` rows of ``1 + n_channels`` float64.
The single writer first raises ``rows_claimed`` to the end of the rows it is about to write,
copies them, then raises ``rows_written``. A reader copies rows below ``rows_written`` and
afterwards drops (and counts as lost) any row older than ``rows_claimed - capacity``: those
may have been overwritten during its copy.
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from typing import TYPE_CHECKING

import numpy as np

from labkit.buffers import _locks
from labkit.buffers._errors import RingError
from labkit.buffers._shm import (
    Segment,
    attach_when_ready,
    new_segment_name,
    sweep_stale_segments,
)

if TYPE_CHECKING:
    from labkit.buffers._trace_reader import TraceReader

logger = logging.getLogger(__name__)

__all__ = ["TraceBuffer", "copy_rows"]

_MAGIC = b"LABKTRC1"
_VERSION = 1
_HEADER = np.dtype(
    {
        "names": ["magic", "version", "n_channels", "capacity", "owner_pid", "names_len"],
        "formats": ["S8", "<u4", "<u4", "<u8", "<u8", "<u8"],
        "offsets": [0, 8, 12, 16, 24, 32],
        "itemsize": 64,
    }
)
_CLAIMED_OFFSET = 64  # u64 rows_claimed
_WRITTEN_OFFSET = 128  # u64 rows_written, u64 closed
_NAMES_OFFSET = 256
_DATA_OFFSET = 4096
_MAX_NAMES = _DATA_OFFSET - _NAMES_OFFSET


class _TraceLayout:
    def __init__(self, segment: Segment) -> None:
        buf = segment.buf
        head = dict(
            zip(_HEADER.names or (), np.ndarray((), _HEADER, buffer=buf).item(), strict=True)
        )
        if head["magic"] != _MAGIC:
            raise RingError(
                f"segment {segment.name!r} is not a labkit trace buffer (or is still being created)"
            )
        if head["version"] != _VERSION:
            raise RingError(
                f"trace buffer {segment.name!r} has layout version {head['version']}; use one labkit version everywhere"
            )
        self.capacity = int(head["capacity"])
        self.owner_pid = int(head["owner_pid"])
        n_channels = int(head["n_channels"])
        names = bytes(buf[_NAMES_OFFSET : _NAMES_OFFSET + int(head["names_len"])])
        self.channels: tuple[str, ...] = tuple(json.loads(names.decode()))
        if (
            len(self.channels) != n_channels
            or _DATA_OFFSET + self.capacity * (1 + n_channels) * 8 > segment.size
        ):
            raise RingError(
                f"trace buffer {segment.name!r} is corrupt; its owner probably crashed while creating it"
            )
        self.claimed = np.ndarray((1,), "<u8", buffer=buf, offset=_CLAIMED_OFFSET)
        self.written = np.ndarray(
            (2,), "<u8", buffer=buf, offset=_WRITTEN_OFFSET
        )  # rows_written, closed
        self.rows = np.ndarray(
            (self.capacity, 1 + n_channels), "<f8", buffer=buf, offset=_DATA_OFFSET
        )

    def release(self) -> None:
        for attr in ("claimed", "written", "rows"):
            self.__dict__.pop(attr, None)


def _close_trace(layout: _TraceLayout, segment: Segment, owner: bool) -> None:
    if owner and segment.owned_here and "written" in layout.__dict__:
        layout.written[1] = 1
    layout.release()
    segment.close()


def copy_rows(layout: _TraceLayout, start: int, stop: int) -> np.ndarray:
    """Copy rows [start, stop) (stop - start <= capacity) out of the circular buffer."""
    cap = layout.capacity
    a, b = start % cap, stop % cap
    if stop - start == 0:
        return np.empty((0, layout.rows.shape[1]))
    if a < b:
        return layout.rows[a:b].copy()
    return np.concatenate([layout.rows[a:], layout.rows[:b]])


class TraceBuffer:
    """A circular buffer of ``capacity`` rows ``(timestamp_s, *channels)`` in shared memory.

    :meth:`create` makes the owner (the only writer; unlinks on close), :meth:`attach` maps it
    from any process. ``rows_written`` is a monotonic row counter. Context manager.
    """

    def __init__(self, segment: Segment, layout: _TraceLayout, owner: bool) -> None:
        self._segment = segment
        self._layout = layout
        self.owner = owner
        self.name = segment.name
        self.channels = layout.channels
        self.capacity = layout.capacity
        self._readers: weakref.WeakSet[TraceReader] = weakref.WeakSet()
        self._finalizer = weakref.finalize(self, _close_trace, layout, segment, owner)

    @classmethod
    def create(cls, channels, capacity: int = 100_000, name: str | None = None) -> TraceBuffer:
        """Create a trace buffer for ``channels`` (names) holding ``capacity`` rows.

        Raises ``ValueError`` for no/duplicate channel names or capacity < 1, ``RingError``
        if shared memory is short.
        """
        channels = tuple(str(c) for c in ([channels] if isinstance(channels, str) else channels))
        if not channels or len(set(channels)) != len(channels):
            raise ValueError(
                f"a trace buffer needs one or more distinct channel names, got {channels}"
            )
        names = json.dumps(list(channels)).encode()
        if len(names) > _MAX_NAMES:
            raise ValueError(
                f"channel names take {len(names)} bytes, at most {_MAX_NAMES} fit; use shorter names"
            )
        capacity = int(capacity)
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 row, got {capacity}")
        sweep_stale_segments()
        size = _DATA_OFFSET + capacity * (1 + len(channels)) * 8
        segment = Segment.create(name or new_segment_name(), size)
        try:
            head = np.ndarray((), _HEADER, buffer=segment.buf)
            head["version"] = _VERSION
            head["n_channels"] = len(channels)
            head["capacity"] = capacity
            head["owner_pid"] = os.getpid()
            head["names_len"] = len(names)
            segment.buf[_NAMES_OFFSET : _NAMES_OFFSET + len(names)] = names
            head["magic"] = _MAGIC
            del head
            layout = _TraceLayout(segment)
        except BaseException:
            segment.close()
            raise
        return cls(segment, layout, owner=True)

    @classmethod
    def attach(cls, name: str) -> TraceBuffer:
        """Map the trace buffer ``name``; never unlinks it. Raises ``RingError`` if absent."""
        return attach_when_ready(name, lambda seg: cls(seg, _TraceLayout(seg), owner=False))

    @property
    def closed(self) -> bool:
        """True once this process closed its handle."""
        return not self._finalizer.alive

    def _live(self) -> _TraceLayout:
        if self.closed:
            raise RingError(f"trace buffer {self.name!r} is closed in this process; attach again")
        return self._layout

    @property
    def rows_written(self) -> int:
        """Rows written so far (monotonic)."""
        return int(self._live().written[0])

    def owner_alive(self) -> bool:
        """True if the owning process is alive and has not closed the buffer."""
        layout = self._live()
        if self.owner:
            return not self.closed
        return not layout.written[1] and self._segment.is_held(_locks.OWNER_BYTE)

    def write(self, timestamps_s, values) -> int:
        """Append rows: ``timestamps_s`` shape (n,), ``values`` shape (n, n_channels); returns rows_written.

        Raises ``ValueError`` for mismatched shapes (nothing written), ``RingError`` if not owner.
        If n exceeds the capacity only the newest ``capacity`` rows are kept.
        """
        layout = self._live()
        if not self._segment.owned_here:
            raise RingError(
                f"trace buffer {self.name!r} is attached (or inherited by a fork): only its owner "
                f"(pid {layout.owner_pid}) writes"
            )
        t = np.asarray(timestamps_s, dtype=np.float64).reshape(-1)
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1 and len(self.channels) == 1:
            v = v.reshape(-1, 1)
        if v.shape != (t.shape[0], len(self.channels)):
            raise ValueError(
                f"trace buffer {self.name!r} expects values of shape (n, {len(self.channels)}) for channels "
                f"{self.channels} and timestamps of shape (n,); got {v.shape} and {t.shape}"
            )
        n = t.shape[0]
        start = int(layout.written[0])
        if n == 0:
            return start
        keep = min(n, self.capacity)
        block = np.empty((keep, 1 + len(self.channels)))
        block[:, 0] = t[n - keep :]
        block[:, 1:] = v[n - keep :]
        first = start + n - keep
        layout.claimed[0] = start + n
        a = first % self.capacity
        head = min(keep, self.capacity - a)
        layout.rows[a : a + head] = block[:head]
        if head < keep:
            layout.rows[: keep - head] = block[head:]
        layout.written[0] = start + n
        return start + n

    def reader(self) -> TraceReader:
        """A reader whose cursor starts at the current row (``latest(n)`` gives history)."""
        from labkit.buffers._trace_reader import TraceReader

        reader = TraceReader(self)
        self._readers.add(reader)
        return reader

    def close(self) -> None:
        """Close this mapping (owner: also unlink). Idempotent."""
        if self.closed:
            return
        for reader in list(self._readers):
            reader.close()
        self._finalizer()

    def __enter__(self) -> TraceBuffer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.rows_written} rows written"
        return f"<TraceBuffer {self.name} channels={list(self.channels)} capacity={self.capacity} ({state})>"
