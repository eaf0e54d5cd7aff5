"""The data side of TracePlot: read a trace source, keep the newest window, decimate for the screen.

:class:`TracePump` holds the state both renderers show (window, pause, autoscale, rows lost) and
hands them a :class:`TraceFrame`; it knows nothing about bqplot or the canvas widget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = ["TraceFrame", "TracePump", "TraceSource", "decimate_minmax", "paused_text"]

logger = logging.getLogger(__name__)


class TraceSource(Protocol):
    """Anything with ``read_new() -> (timestamps_s (n,), values (n, c), rows_lost)``."""

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]: ...


class _SignalSource:
    """A Signal device (``read() -> (t, v)``, ``channels``) as a :class:`TraceSource`."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.channels = tuple(device.channels)

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]:
        t, v = self.device.read()
        return t, v, 0


def paused_text(rows: int) -> str:
    """The status line of a paused plot: the picture is frozen, the data still comes."""
    return f"paused · {rows:,} new samples"


def decimate_minmax(t: np.ndarray, v: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce ``(t (n,), v (n, c))`` to at most ``max_points`` rows keeping each bucket's min and max.

    Buckets are aligned to the newest sample, so the right edge of the plot is always exact.
    """
    n = t.shape[0]
    if n <= max_points or max_points < 4:
        return t, v
    bucket = int(np.ceil(n / (max_points // 2)))
    m = n // bucket
    start = n - m * bucket
    tt = t[start:].reshape(m, bucket)
    vv = v[start:].reshape(m, bucket, v.shape[1])
    t_out = np.empty(2 * m)
    t_out[0::2] = tt[:, 0]
    t_out[1::2] = tt[:, -1]
    v_out = np.empty((2 * m, v.shape[1]))
    v_out[0::2] = vv.min(axis=1)
    v_out[1::2] = vv.max(axis=1)
    return t_out, v_out


@dataclass(frozen=True)
class TraceFrame:
    """One picture for a renderer: ``t_rel`` (m,) seconds before ``t_end`` (epoch s), ``values``
    (m, c) decimated, the window (s), the y range to show (frozen range when autoscale is off,
    the data's min/max when on; None without finite data), samples in the window, rows lost."""

    t_rel: np.ndarray
    values: np.ndarray
    t_end: float
    window_s: float
    y_range: tuple[float, float] | None
    autoscale: bool
    n_samples: int
    rows_lost: int


class TracePump:
    """Reads a trace source and keeps the newest window; the state both renderers show.

    ``source``: a ``Scope`` (the trace reader of its ``stream`` — default the first signal — is
    opened, owned and re-opened after a restart),
    a ``TraceReader`` or any :class:`TraceSource`, or a Signal device (``read()``, ``channels``).
    Not thread-safe by itself: :class:`TracePlot` calls it under its lock.
    """

    def __init__(
        self, source: Any, channels: Any, window_s: float, stream: str | None = None
    ) -> None:
        self._owns_reader = hasattr(source, "open_trace_reader")
        self._source = source
        self.stream = stream
        if stream is not None and not self._owns_reader:
            raise TypeError(
                f"stream={stream!r} picks a trace of a Scope; a {type(source).__name__} has no "
                "streams"
            )
        if self._owns_reader:
            self._trace_name = self._buffer()
            self.reader = source.open_trace_reader(stream)  # LookupError names the streams
        elif hasattr(source, "read_new"):
            self.reader = source
        elif hasattr(source, "read") and hasattr(source, "channels"):
            self.reader = _SignalSource(source)
        else:
            raise TypeError(
                f"TracePlot cannot read a {type(source).__name__}: pass a Scope, a TraceReader, "
                "a Signal device or an object with read_new() -> (t, v, rows_lost); for a "
                "scope's signal pass the Scope (its engine records the signal into a trace buffer)"
            )
        names = channels or getattr(self.reader, "channels", None) or ()
        self.channels: tuple[str, ...] = tuple(str(c) for c in names)
        self.window_s = float(window_s)
        self.paused = False
        self.rows_while_paused = 0  # rows read since the last pause (the status shows them)
        self.autoscale = True
        self.frozen_range: tuple[float, float] | None = None
        self.rows_lost = 0
        self.dirty = False  # something changed since the last picture
        self.t = np.empty(0)
        self.v = np.empty((0, max(1, len(self.channels))))

    def read(self) -> int:
        """Read new rows into the window; returns how many. Raises what the source raises."""
        self._follow_scope()
        t, v, lost = self.reader.read_new()
        t = np.asarray(t, dtype=float).reshape(-1)
        v = np.asarray(v, dtype=float)
        v = v.reshape(t.shape[0], -1) if t.size else np.empty((0, self.v.shape[1]))
        self.rows_lost += int(lost)
        if self.paused:
            self.rows_while_paused += int(t.size)
        if t.size:
            if not self.channels or v.shape[1] != self.v.shape[1]:
                self._set_channels(v.shape[1])
            self.t = np.concatenate([self.t, t])
            self.v = np.concatenate([self.v, v])
            self.dirty = True
        self.trim()
        return int(t.size)

    def trim(self) -> None:
        """Drop rows older than the window before the newest sample."""
        if self.t.size:
            keep = self.t >= self.t[-1] - self.window_s
            self.t, self.v = self.t[keep], self.v[keep]

    def _buffer(self) -> str | None:
        """The buffer the scope's stream lives in now (None: gone or not running)."""
        if self.stream is None:
            return getattr(self._source, "trace_name", None)
        info = self._source.streams.get(self.stream)
        return None if info is None else info.buffer

    def _follow_scope(self) -> None:
        """A restarted scope has a new trace buffer: read that one from now on."""
        if not self._owns_reader:
            return
        name = self._buffer()
        if name and name != self._trace_name:
            self.switch(self.stream)

    def switch(self, stream: str | None) -> None:
        """Read the scope's trace stream ``stream`` from now on (the window starts empty; the
        channels become the new stream's). Raises ``LookupError`` naming the streams there are,
        and keeps reading the old one then."""
        if not self._owns_reader:
            raise TypeError("only a plot of a Scope can switch streams")
        new = self._source.open_trace_reader(stream)
        old, self.reader, self.stream = self.reader, new, stream
        self._trace_name = self._buffer()
        old.close()
        self.channels = tuple(str(c) for c in getattr(new, "channels", ()) or ())
        self._set_channels(max(1, len(self.channels)))
        self.dirty = True
        logger.info("TracePlot now reads trace buffer %s", self._trace_name)

    def _set_channels(self, n: int) -> None:
        if len(self.channels) != n:
            self.channels = tuple(f"ch{i}" for i in range(n))
        self.v = np.empty((0, n))
        self.t = np.empty(0)

    def data_range(self) -> tuple[float, float] | None:
        """Min and max of the values in the window (None without finite values)."""
        finite = self.v[np.isfinite(self.v)]
        return (float(finite.min()), float(finite.max())) if finite.size else None

    def set_autoscale(self, on: bool) -> None:
        """Autoscale on, or off freezing the current data range."""
        self.autoscale = bool(on)
        self.frozen_range = None if on else self.data_range()
        self.dirty = True

    def frame(self, max_points: int) -> TraceFrame | None:
        """The current window decimated to ``max_points`` rows (None when there is no data)."""
        if not self.t.size:
            return None
        t, v = decimate_minmax(self.t, self.v, max_points)
        t_end = float(self.t[-1])
        y_range = self.data_range() if self.autoscale else self.frozen_range
        return TraceFrame(
            t_rel=t - t_end,
            values=v,
            t_end=t_end,
            window_s=self.window_s,
            y_range=y_range,
            autoscale=self.autoscale,
            n_samples=int(self.t.size),
            rows_lost=self.rows_lost,
        )

    def close(self) -> None:
        """Close the reader if the pump opened it."""
        if self._owns_reader:
            try:
                self.reader.close()
            except Exception:  # noqa: BLE001 - closing must go on
                logger.debug("closing the trace reader failed", exc_info=True)
