"""TracePlot: a scrolling multi-channel time series (bqplot) fed by a trace reader.

The widget owns one refresh thread that calls ``source.read_new()`` about 10 times a second,
keeps the last ``window_s`` seconds, and redraws (min/max decimated to ``max_points`` per
channel so spikes stay visible). Pausing freezes the drawing but keeps reading, so nothing piles
up in the shared buffer; rows the buffer overwrote before they were read are counted on screen.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import warnings
from typing import Any, Protocol

import ipywidgets as widgets
import numpy as np

__all__ = ["TracePlot", "TraceSource", "decimate_minmax"]

logger = logging.getLogger(__name__)

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _import_bqplot() -> Any:
    """Import bqplot (heavy, so only when a plot is made) without its import-time DeprecationWarnings.

    bqscales 0.3 builds traitlets with constructor metadata, which warns on import; that is noise
    for labkit users (and an error under ``-W error``), not something they can fix.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bqplot

    return bqplot


class TraceSource(Protocol):
    """Anything with ``read_new() -> (timestamps_s (n,), values (n, c), rows_lost)``."""

    def read_new(self) -> tuple[np.ndarray, np.ndarray, int]: ...


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


class TracePlot(widgets.VBox):
    """Scrolling plot of the newest ``window_s`` seconds of one or more channels.

    Args:
        source: a ``Scope`` (its ``open_trace_reader()`` is opened and owned by the plot), a
            ``TraceReader``, or any :class:`TraceSource`.
        channels: channel names for the legend; default ``source.channels`` or ``ch0, ch1, ...``.
        window_s: visible time span in seconds (also editable in the widget).
        refresh_hz: redraw rate of the refresh thread (capped at 30 Hz).
        max_points: points per channel sent to the browser per redraw.
        title: figure title.
        autostart: start the refresh thread now (else call :meth:`start`).

    Raises:
        ValueError: ``window_s`` or ``refresh_hz`` not positive.
    """

    def __init__(
        self,
        source: Any,
        *,
        channels: tuple[str, ...] | list[str] | None = None,
        window_s: float = 10.0,
        refresh_hz: float = 10.0,
        max_points: int = 2000,
        title: str = "",
        autostart: bool = True,
    ) -> None:
        bqplot = _import_bqplot()
        if window_s <= 0 or refresh_hz <= 0:
            raise ValueError(
                f"window_s and refresh_hz must be > 0, got {window_s} and {refresh_hz}"
            )
        self._closed = True  # until built (Widget.__del__ of a failed build must do nothing)
        self._owns_reader = hasattr(source, "open_trace_reader")
        self._source = source
        self._trace_name = getattr(source, "trace_name", None)
        self.reader = source.open_trace_reader() if self._owns_reader else source
        names = channels or getattr(self.reader, "channels", None) or ()
        self.channels: tuple[str, ...] = tuple(str(c) for c in names)
        self.refresh_hz = min(float(refresh_hz), 30.0)
        self.max_points = int(max_points)
        self.rows_lost = 0
        self.redraws = 0
        self.error: str | None = None
        self._t = np.empty(0)
        self._v = np.empty((0, max(1, len(self.channels))))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        self._x_scale = bqplot.LinearScale(min=-float(window_s), max=0.0)
        self._y_scale = bqplot.LinearScale()
        self.lines = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros((max(1, len(self.channels)), 0)),
            scales={"x": self._x_scale, "y": self._y_scale},
            labels=list(self.channels) or ["ch0"],
            colors=COLORS,
            display_legend=True,
            stroke_width=1.5,
        )
        axes = [
            bqplot.Axis(scale=self._x_scale, label="time (s)", grid_lines="none"),
            bqplot.Axis(scale=self._y_scale, orientation="vertical", grid_lines="dashed"),
        ]
        self.figure = bqplot.Figure(
            marks=[self.lines],
            axes=axes,
            title=title,
            animation_duration=0,
            legend_location="top-left",
            fig_margin={"top": 30, "bottom": 40, "left": 50, "right": 10},
            layout=widgets.Layout(width="100%", height="260px"),
        )
        self.window = widgets.BoundedFloatText(
            value=float(window_s),
            min=0.1,
            max=3600.0,
            description="window (s)",
            layout=widgets.Layout(width="170px"),
        )
        self.autoscale = widgets.Checkbox(value=True, description="autoscale", indent=False)
        self.pause = widgets.ToggleButton(value=False, description="pause", icon="pause")
        self.status = widgets.HTML(value="")
        self.window.observe(self._on_window, names="value")
        self.autoscale.observe(self._on_autoscale, names="value")
        self.pause.observe(self._on_pause, names="value")
        controls = widgets.HBox([self.window, self.autoscale, self.pause, self.status])
        super().__init__([self.figure, controls])
        self.add_class("labkit-traceplot")
        self._closed = False
        if autostart:
            self.start()

    # ------------------------------------------------------------------ controls
    @property
    def window_s(self) -> float:
        return float(self.window.value)

    def _on_window(self, change: dict) -> None:
        self._x_scale.min = -float(change["new"])

    def _on_autoscale(self, change: dict) -> None:
        if change["new"]:
            self._y_scale.min = None
            self._y_scale.max = None
        else:  # freeze the current range
            y = np.asarray(self.lines.y, dtype=float)
            if y.size:
                self._y_scale.min, self._y_scale.max = float(np.nanmin(y)), float(np.nanmax(y))

    def _on_pause(self, change: dict) -> None:
        self.pause.icon = "play" if change["new"] else "pause"
        self.pause.description = "resume" if change["new"] else "pause"

    # ------------------------------------------------------------------ data
    def update(self) -> int:
        """Read new rows and redraw (unless paused); returns the number of rows read.

        Called by the refresh thread; call it yourself with ``autostart=False``.
        """
        try:
            self._follow_scope()
            t, v, lost = self.reader.read_new()
        except Exception as exc:  # closed buffer, dead engine: show it, stop refreshing
            self._fail(f"{type(exc).__name__}: {exc}")
            return 0
        t = np.asarray(t, dtype=float).reshape(-1)
        v = np.asarray(v, dtype=float)
        v = v.reshape(t.shape[0], -1) if t.size else np.empty((0, self._v.shape[1]))
        with self._lock:
            self.rows_lost += int(lost)
            if t.size:
                if not self.channels or v.shape[1] != self._v.shape[1]:
                    self._set_channels(v.shape[1])
                self._t = np.concatenate([self._t, t])
                self._v = np.concatenate([self._v, v])
                keep = self._t >= self._t[-1] - self.window_s
                self._t, self._v = self._t[keep], self._v[keep]
            if not self.pause.value and self._t.size:
                self._draw()
        self.status.value = self._status_text()
        return int(t.size)

    def _follow_scope(self) -> None:
        """A restarted scope has a new trace buffer: read that one from now on."""
        if not self._owns_reader:
            return
        name = getattr(self._source, "trace_name", None)
        if name and name != self._trace_name:
            old, self.reader = self.reader, self._source.open_trace_reader()
            self._trace_name = name
            old.close()
            logger.info("TracePlot now reads trace buffer %s", name)

    def _set_channels(self, n: int) -> None:
        if len(self.channels) != n:
            self.channels = tuple(f"ch{i}" for i in range(n))
        self._v = np.empty((0, n))
        self._t = np.empty(0)
        self.lines.labels = list(self.channels)

    def _draw(self) -> None:
        t, v = decimate_minmax(self._t, self._v, self.max_points)
        with self.lines.hold_sync():
            self.lines.x = t - self._t[-1]
            self.lines.y = np.ascontiguousarray(v.T)
        self.redraws += 1

    def _status_text(self) -> str:
        if self.error:
            return f'<span style="color:#c62828">{html.escape(self.error)}</span>'
        lost = (
            f"; <span style='color:#c62828'>{self.rows_lost} rows lost</span>"
            if self.rows_lost
            else ""
        )
        return f"{self._t.size} samples{lost}"

    def _fail(self, message: str) -> None:
        self.error = message
        self.status.value = self._status_text()
        self._stop.set()
        logger.warning("TracePlot stopped: %s", message)

    # ------------------------------------------------------------------ thread
    def start(self) -> None:
        """Start the refresh thread (idempotent)."""
        if self._thread is not None or self._closed:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="labkit-traceplot", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = 1.0 / self.refresh_hz
        while not self._stop.is_set():
            started = time.monotonic()
            self.update()
            self._stop.wait(max(0.0, period - (time.monotonic() - started)))

    def stop(self) -> None:
        """Stop the refresh thread and wait for it (the plot keeps its last picture)."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    def close(self) -> None:
        """Stop the thread, close the reader if the plot opened it, and close the widgets."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        self.stop()
        if self._owns_reader:
            try:
                self.reader.close()
            except Exception:
                logger.debug("closing the trace reader failed", exc_info=True)
        for child in (
            self.window,
            self.autoscale,
            self.pause,
            self.status,
            self.lines,
            self.figure,
        ):
            child.close()
        for axis in self.figure.axes:
            axis.close()
        for w in (self._x_scale, self._y_scale, *self.children):
            w.close()
        super().close()

    def __enter__(self) -> TracePlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
