"""TracePlot: a scrolling multi-channel time series fed by a trace reader or a signal device.

One data pump (:class:`TracePump`: reading the source, window, pause and autoscale state, min/max
decimation) feeds one of two renderers:

- ``"bqplot"``: a bqplot Figure with ipywidgets controls (JupyterLab, Notebook 7, Voila);
- ``"canvas"``: :class:`~labkit.widgets._trace_canvas.TraceCanvas`, an anywidget drawing with
  Canvas2D, controls in the widget, float32 buffers at a bounded rate (works in marimo too).

``renderer="auto"`` (the default) is the canvas in every front end: it paints faster (in the demo
dashboard bqplot traces cost 10 of 38 painted live-view fps) and it has no equivalent of bqplot's
start-up race (a data or scale update that reaches a figure whose scale views are still being
created fails with "Error setting state: Cannot read properties of undefined (reading 'scale')",
seen in JupyterLab on a loaded machine). Ask for ``"bqplot"`` to get an SVG figure and ipywidgets
controls. The plot's refresh thread
reads new rows ``refresh_hz`` times a second and keeps the last ``window_s`` seconds. Pausing
freezes the picture but keeps reading, so nothing piles up in the shared buffer; rows the buffer
overwrote before they were read are counted on screen.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import warnings
from typing import Any

import ipywidgets as widgets
import numpy as np

from labkit.widgets._frontends import close_with_comm
from labkit.widgets._trace_pump import (
    TraceFrame,
    TracePump,
    TraceSource,
    decimate_minmax,
    paused_text,
)

__all__ = ["RENDERERS", "TraceFrame", "TracePlot", "TracePump", "TraceSource", "decimate_minmax"]

logger = logging.getLogger(__name__)

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
RENDERERS = ("auto", "bqplot", "canvas")


def _import_bqplot() -> Any:
    """Import bqplot (heavy, so only when a plot is made) without its import-time DeprecationWarnings.

    bqscales 0.3 builds traitlets with constructor metadata, which warns on import; that is noise
    for labkit users (and an error under ``-W error``), not something they can fix.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bqplot

    return bqplot


class _BqplotRenderer:
    """bqplot Figure + ipywidgets controls (Jupyter front ends)."""

    def __init__(self, channels: tuple[str, ...], window_s: float, title: str, max_points: int):
        bqplot = _import_bqplot()
        self._max_points = int(max_points)
        self.x_scale = bqplot.LinearScale(min=-float(window_s), max=0.0)
        self.y_scale = bqplot.LinearScale()
        self.lines = bqplot.Lines(
            x=np.zeros(0),
            y=np.zeros((max(1, len(channels)), 0)),
            scales={"x": self.x_scale, "y": self.y_scale},
            labels=list(channels) or ["ch0"],
            colors=COLORS,
            display_legend=True,
            stroke_width=1.5,
        )
        axes = [
            bqplot.Axis(scale=self.x_scale, label="time (s)", grid_lines="none"),
            bqplot.Axis(scale=self.y_scale, orientation="vertical", grid_lines="dashed"),
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
        self.controls = widgets.HBox([self.window, self.autoscale, self.pause, self.status])
        self.children = [self.figure, self.controls]

    def connect(self, on_change: Any) -> None:
        self.window.observe(lambda c: on_change("window_s", c["new"]), names="value")
        self.autoscale.observe(lambda c: on_change("autoscale", c["new"]), names="value")
        self.pause.observe(lambda c: on_change("paused", c["new"]), names="value")

    def ready(self) -> bool:
        return True

    def max_points(self) -> int:
        return self._max_points

    def set_channels(self, channels: tuple[str, ...]) -> None:
        self.lines.labels = list(channels)

    def show_state(self, pump: TracePump) -> None:
        self.window.value = pump.window_s
        self.x_scale.min = -pump.window_s
        self.autoscale.value = pump.autoscale
        lo, hi = (None, None) if pump.autoscale else (pump.frozen_range or (None, None))
        self.y_scale.min, self.y_scale.max = lo, hi
        self.pause.value = pump.paused
        self.pause.icon = "play" if pump.paused else "pause"
        self.pause.description = "resume" if pump.paused else "pause"

    def draw(self, frame: TraceFrame) -> bool:
        with self.lines.hold_sync():
            self.lines.x = frame.t_rel
            self.lines.y = np.ascontiguousarray(frame.values.T)
        return True

    def show_status(
        self, n_samples: int, rows_lost: int, error: str | None, paused: int | None = None
    ) -> None:
        if error:
            text = f'<span style="color:#c62828">{html.escape(error)}</span>'
        elif paused is not None:
            text = paused_text(paused)
        else:
            lost = (
                f"; <span style='color:#c62828'>{rows_lost} rows lost</span>" if rows_lost else ""
            )
            text = f"{n_samples} samples{lost}"
        self.status.value = text

    def close(self) -> None:
        for w in (self.window, self.autoscale, self.pause, self.status, self.lines, self.figure):
            w.close()
        for axis in self.figure.axes:
            axis.close()
        for w in (self.x_scale, self.y_scale, self.controls):
            w.close()


class TracePlot(widgets.VBox):
    """Scrolling plot of the newest ``window_s`` seconds of one or more channels.

    Args:
        source: a ``Scope`` (its ``open_trace_reader()`` is opened and owned by the plot), a
            ``TraceReader``, a Signal device (``read()``, ``channels``) or any
            :class:`TraceSource`.
        channels: channel names for the legend; default ``source.channels`` or ``ch0, ch1, ...``.
        window_s: visible time span in seconds (also editable in the widget).
        refresh_hz: reads per second of the refresh thread (default 10 for bqplot, 20 for
            canvas; capped at 30 and 20 updates/s).
        max_points: points per channel sent per bqplot redraw (the canvas decimates to its
            plot width in device pixels instead).
        title: figure title.
        autostart: start the refresh thread now (else call :meth:`start`).
        renderer: ``"bqplot"`` (SVG, Jupyter front ends), ``"canvas"`` (Canvas2D anywidget: also
            marimo) or ``"auto"`` (the canvas, everywhere).
        stream: with a ``Scope``: which trace stream (a signal or a node's output, see
            ``scope.streams``); default the first signal. Settable later (:attr:`stream`).

    State from code or the widget's controls: :attr:`window_s`, :attr:`paused`,
    :attr:`autoscale_y`. In marimo the plot displays itself (``_display_``), also inside
    ``mo.vstack``.

    Raises:
        ValueError: ``window_s`` or ``refresh_hz`` not positive, or an unknown ``renderer``.
        TypeError: a source the plot cannot read, or ``stream`` with a source that is not a Scope.
        LookupError: a ``stream`` the scope does not have (the message lists its streams).
    """

    def __init__(
        self,
        source: Any,
        *,
        channels: tuple[str, ...] | list[str] | None = None,
        window_s: float = 10.0,
        refresh_hz: float | None = None,
        max_points: int = 2000,
        title: str = "",
        autostart: bool = True,
        renderer: str = "auto",
        stream: str | None = None,
    ) -> None:
        self._closed = True  # until built (Widget.__del__ of a failed build must do nothing)
        if renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, got {renderer!r}")
        if window_s <= 0 or (refresh_hz is not None and refresh_hz <= 0):
            raise ValueError(
                f"window_s and refresh_hz must be > 0, got {window_s} and {refresh_hz}"
            )
        if renderer == "auto":
            renderer = "canvas"
        self.renderer: str = renderer
        cap = 20.0 if renderer == "canvas" else 30.0
        default_hz = 20.0 if renderer == "canvas" else 10.0
        self.refresh_hz = min(float(refresh_hz) if refresh_hz else default_hz, cap)
        self.max_points = int(max_points)
        self._pump = TracePump(source, channels, window_s, stream)
        self.redraws = 0
        self.error: str | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown_channels = self._pump.channels
        chans = self._pump.channels
        self._renderer: Any  # _BqplotRenderer or TraceCanvas: the same small renderer interface
        # bqplot mode: the figure and ipywidgets controls; canvas mode: the TraceCanvas
        self.figure = self.lines = self.window = self.autoscale = self.pause = self.status = None
        self.canvas = None
        if renderer == "canvas":
            from labkit.widgets._trace_canvas import TraceCanvas

            self.canvas = TraceCanvas(
                max_rate_hz=cap,
                channels=list(chans),
                colors=COLORS,
                title=title,
                window_s=float(window_s),
            )
            self._renderer = self.canvas
        else:
            r = _BqplotRenderer(chans, window_s, title, self.max_points)
            self._renderer = r
            self.figure, self.lines = r.figure, r.lines
            self.window, self.autoscale, self.pause, self.status = (
                r.window,
                r.autoscale,
                r.pause,
                r.status,
            )
            self._x_scale, self._y_scale = r.x_scale, r.y_scale
        self._renderer.connect(self._on_change)
        super().__init__(list(self._renderer.children))
        self.add_class("labkit-traceplot")
        self._closed = False
        close_with_comm(self)  # marimo re-running the cell closes the comm: stop the thread too
        if autostart:
            self.start()

    # ------------------------------------------------------------------ state
    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names (from the source, or ``ch0, ch1, ...``)."""
        return self._pump.channels

    @property
    def title(self) -> str:
        """The heading over the plot (settable)."""
        return str(self._titled().title)

    @title.setter
    def title(self, value: str) -> None:
        self._titled().title = str(value)

    def _titled(self) -> Any:
        """The widget that shows the title: the canvas, or the bqplot figure."""
        return self.canvas if self.canvas is not None else self.figure

    @property
    def stream(self) -> str | None:
        """The scope trace stream shown (None: the first signal, or not a scope). Setting it
        reads that stream from now on (``LookupError`` naming the streams if there is none)."""
        return self._pump.stream

    @stream.setter
    def stream(self, stream: str | None) -> None:
        with self._lock:
            self._pump.switch(stream)
        self._render()

    @property
    def reader(self) -> Any:
        """The trace reader the plot reads (re-opened after a scope restart)."""
        return self._pump.reader

    @property
    def samples(self) -> int:
        """Rows in the window now (read from the source, drawn or not)."""
        return int(self._pump.t.size)

    @property
    def rows_lost(self) -> int:
        """Rows the shared buffer overwrote before the plot read them."""
        return self._pump.rows_lost

    @property
    def window_s(self) -> float:
        """Visible time span in seconds (settable; ``ValueError`` unless > 0)."""
        return self._pump.window_s

    @window_s.setter
    def window_s(self, value: float) -> None:
        self._on_change("window_s", value)

    @property
    def paused(self) -> bool:
        """True while the picture is frozen (reading goes on)."""
        return self._pump.paused

    @paused.setter
    def paused(self, value: bool) -> None:
        self._on_change("paused", value)

    @property
    def autoscale_y(self) -> bool:
        """True: the y range follows the data; False: frozen at the range when it was turned off."""
        return self._pump.autoscale

    @autoscale_y.setter
    def autoscale_y(self, value: bool) -> None:
        self._on_change("autoscale", value)

    def _on_change(self, name: str, value: Any) -> None:
        """A control changed (browser or code): update the pump, then every control."""
        with self._lock:
            pump = self._pump
            if name == "window_s":
                if not float(value) > 0:
                    raise ValueError(f"window_s must be > 0 s, got {value!r}")
                pump.window_s = float(value)
                pump.dirty = True
            elif name == "paused":
                if bool(value) and not pump.paused:
                    pump.rows_while_paused = 0
                pump.paused = bool(value)
                pump.dirty = True
            elif name == "autoscale" and bool(value) != pump.autoscale:
                pump.set_autoscale(bool(value))
            self._renderer.show_state(pump)

    # ------------------------------------------------------------------ data
    def update(self) -> int:
        """Read new rows and redraw (unless paused); returns the number of rows read.

        Called by the refresh thread; call it yourself with ``autostart=False``. With the canvas
        renderer a redraw waits for a browser view and for credit (the newest window goes then).
        """
        try:
            with self._lock:
                n = self._pump.read()
            self._render()
        except Exception as exc:  # closed buffer, dead engine, closed comm: show it, stop
            self._fail(f"{type(exc).__name__}: {exc}")
            return 0
        return n

    def _render(self) -> None:
        with self._lock:
            pump, renderer = self._pump, self._renderer
            if pump.channels != self._shown_channels:
                self._shown_channels = pump.channels
                renderer.set_channels(pump.channels)
            if pump.dirty and not pump.paused and renderer.ready():
                frame = pump.frame(renderer.max_points())
                if frame is not None and renderer.draw(frame):
                    pump.dirty = False
                    self.redraws += 1
            paused = pump.rows_while_paused if pump.paused else None
            renderer.show_status(int(pump.t.size), pump.rows_lost, self.error, paused)

    def _fail(self, message: str) -> None:
        self.error = message
        try:
            with self._lock:
                self._renderer.show_status(int(self._pump.t.size), self._pump.rows_lost, message)
        except Exception:  # noqa: BLE001 - the widget itself may be what failed
            logger.debug("could not show the error", exc_info=True)
        self._stop.set()
        logger.warning("TracePlot stopped: %s", message)

    # ------------------------------------------------------------------ marimo
    def _display_(self) -> Any:
        """marimo's display protocol: the canvas widget (marimo cannot show bqplot)."""
        if self.canvas is not None:
            return self.canvas
        import marimo as mo

        return mo.callout(
            mo.md(
                "This TracePlot uses bqplot, which marimo cannot show: create it with "
                "`renderer='canvas'` (or the default `renderer='auto'`)."
            ),
            kind="warn",
        )

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
        self._pump.close()
        self._renderer.close()
        super().close()

    def __enter__(self) -> TracePlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
