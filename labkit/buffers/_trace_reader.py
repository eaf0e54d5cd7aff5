"""``TraceReader``: a cursor into a ``TraceBuffer`` that reports lost rows."""

from __future__ import annotations

import numpy as np

from labkit.buffers._errors import RingError
from labkit.buffers._trace import TraceBuffer, _TraceLayout, copy_rows

__all__ = ["TraceReader"]


class TraceReader:
    """A cursor into a :class:`TraceBuffer`; one thread per reader."""

    def __init__(self, buffer: TraceBuffer, _own_buffer: bool = False) -> None:
        self._buffer = buffer
        self._layout = buffer._live()
        self._own = _own_buffer
        self._cursor = int(self._layout.written[0])
        self.rows_lost = 0
        self.closed = False

    @classmethod
    def attach(cls, name: str) -> TraceReader:
        """Attach to trace buffer ``name`` and read it; ``close()`` closes both."""
        return cls(TraceBuffer.attach(name), _own_buffer=True)

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names, in column order of the values returned."""
        return self._buffer.channels

    @property
    def cursor(self) -> int:
        """Index of the next row :meth:`read_new` returns."""
        return self._cursor

    def _live(self) -> _TraceLayout:
        if self.closed or self._buffer.closed:
            raise RingError(f"trace reader of {self._buffer.name!r} is closed; open a new one")
        return self._layout

    def _read(self, start: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        layout = self._live()
        stop = int(layout.written[0])
        lost = 0
        if stop - start > layout.capacity:
            lost = stop - layout.capacity - start
            start = stop - layout.capacity
        rows = copy_rows(layout, start, stop)
        valid_from = int(layout.claimed[0]) - layout.capacity  # rows below may be overwritten now
        if valid_from > start:
            drop = min(valid_from - start, rows.shape[0])
            rows = rows[drop:]
            lost += drop
        return rows[:, 0].copy(), rows[:, 1:].copy(), lost, stop

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Rows since the last call: ``(timestamps_s (n,), values (n, c), rows_lost)``.

        ``rows_lost`` counts rows overwritten before this reader got to them (also added to
        ``self.rows_lost``). Raises ``RingError`` when there is nothing new and the owner has
        closed the buffer (rows written before the close are still returned first).
        """
        t, v, lost, stop = self._read(self._cursor)
        if stop == self._cursor and self._layout.written[1]:
            raise RingError(
                f"trace buffer {self._buffer.name!r} was closed by its owner; open a new trace reader"
            )
        self._cursor = stop
        self.rows_lost += lost
        return t, v, lost

    def latest(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The newest ``n`` rows (fewer if fewer exist); moves the cursor to the end."""
        if n < 0:
            raise ValueError(f"latest(n) needs n >= 0, got {n}")
        layout = self._live()
        stop = int(layout.written[0])
        start = max(0, stop - min(n, layout.capacity))
        t, v, _lost, stop = self._read(start)
        self._cursor = max(self._cursor, stop)
        return t, v

    def close(self) -> None:
        """Close the reader (and the buffer if opened by ``attach``). Idempotent."""
        if self.closed:
            return
        self.closed = True
        self._layout = None  # type: ignore[assignment]
        if self._own:
            self._buffer.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
