"""``TraceCanvas``: the Canvas2D renderer of :class:`~labkit.widgets.TracePlot` (an anywidget).

marimo renders only anywidgets (ESM), so a bqplot figure shows "Jupyter widgets are not
supported in marimo" there; this widget draws the same plot with Canvas2D in the browser
(front end in js/src/trace/) and works in marimo, JupyterLab, Notebook 7 and Voila.

Data travels as binary buffers, never JSON lists: each update is one custom message
``{"type": "traces", seq, n, n_channels, t_end, window_s, y_min, y_max, n_samples, rows_lost}``
with ``buffers[0]`` = float32 ``t`` (n,) in seconds before ``t_end`` and ``buffers[1]`` = float32
values (n_channels, n), channel-major, min/max decimated to the plot width the browser reports.
Flow control follows the live view: at most ``max_in_flight`` updates unacknowledged (the
credit is reclaimed after ``credit_timeout_s``), at most ``max_rate_hz`` updates a second, and
nothing is sent before a browser view said "ready" — so nothing queues when the browser is slow;
the next update carries the newest window. The browser's acks are cumulative (``seq`` acks
every update up to it) and come for every second update received, or ``ACK_DELAY_MS``
(js/src/trace/widget.ts) after one that was not acked yet: every message the browser sends
costs a Jupyter kernel three (the comm message and the busy/idle status it publishes), which
cross the server beside a live view's frames. (What a plot beside a live view costs it is
mostly its redraws, not its messages: the dashboard's plots redraw at 10 Hz for that.)
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import anywidget
import numpy as np
import traitlets

from labkit.widgets._frontends import running_in_marimo
from labkit.widgets._static import bundle_path
from labkit.widgets._trace_pump import paused_text
from labkit.widgets._transport import CreditWindow

__all__ = ["TraceCanvas", "encode_traces", "running_in_marimo"]

logger = logging.getLogger(__name__)

STALLED = (
    "slowed down: the browser's acks are not read — the kernel is probably busy running a cell "
    "(one update per credit timeout until it is idle)"
)
DEFAULT_PLOT_W = 600  # device pixels, until the browser reports its plot width
PAUSED_EVERY_S = 1.0  # while paused, the status (rows that came since) changes at most this often


def encode_traces(
    seq: int,
    t_rel: np.ndarray,
    values: np.ndarray,
    *,
    t_end: float,
    window_s: float,
    y_range: tuple[float, float] | None,
    n_samples: int,
    rows_lost: int,
) -> tuple[dict[str, Any], list[bytes]]:
    """Build one "traces" message: ``(content, [t float32 (n,), values float32 (c, n)])``.

    ``t_rel`` (n,) is in seconds before ``t_end``; ``values`` is (n, c). ``y_range`` None or
    non-finite is sent as NaN (the browser then uses [-1, 1]).

    Raises:
        ValueError: ``values`` rows do not match ``t_rel``.
    """
    t32 = np.ascontiguousarray(t_rel, dtype="<f4").reshape(-1)
    v = np.asarray(values)
    if v.ndim != 2 or v.shape[0] != t32.shape[0]:
        raise ValueError(f"values must be (n, channels) with n = {t32.shape[0]}, got {v.shape}")
    v32 = np.ascontiguousarray(v.T, dtype="<f4")
    lo, hi = y_range if y_range is not None else (float("nan"), float("nan"))
    content = {
        "type": "traces",
        "seq": int(seq),
        "n": int(t32.shape[0]),
        "n_channels": int(v.shape[1]),
        "t_end": float(t_end),
        "window_s": float(window_s),
        "y_min": float(lo) if np.isfinite(lo) else None,
        "y_max": float(hi) if np.isfinite(hi) else None,
        "n_samples": int(n_samples),
        "rows_lost": int(rows_lost),
    }
    return content, [t32.tobytes(), v32.tobytes()]


class TraceCanvas(anywidget.AnyWidget):
    """The browser half of a canvas-rendered TracePlot; the plot's pump calls :meth:`draw`.

    Synced traits: ``channels``, ``colors``, ``title``, ``height_px`` (CSS px), and the controls
    the browser edits: ``window_s`` (s), ``autoscale``, ``paused``; ``status`` is
    ``(level, text)`` shown under the plot (level "error" in red, "warning" amber, "paused" the rows
    that came since pausing; empty text: sample counts).
    """

    view_id = traitlets.Unicode("").tag(sync=True)
    channels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    colors = traitlets.List(traitlets.Unicode()).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    height_px = traitlets.Int(240).tag(sync=True)
    window_s = traitlets.Float(10.0).tag(sync=True)
    autoscale = traitlets.Bool(True).tag(sync=True)
    paused = traitlets.Bool(False).tag(sync=True)
    status = traitlets.Tuple(("ok", "")).tag(sync=True)

    def __init__(
        self,
        *,
        max_rate_hz: float = 20.0,
        max_in_flight: int = 4,
        credit_timeout_s: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        if not max_rate_hz > 0:
            raise ValueError(f"max_rate_hz must be > 0 updates/s, got {max_rate_hz!r}")
        self._esm = bundle_path("tracecanvas").read_text(encoding="utf-8")
        self.max_rate_hz = float(max_rate_hz)
        self.clock = (
            clock  # seconds, monotonic: the rate cap and credit timeouts (tests inject one)
        )
        self._credit = CreditWindow(max_in_flight, credit_timeout_s)
        self._lock = threading.Lock()
        self._views: set[str] = set()
        self._last_send = float("-inf")
        self._timeouts_seen = 0
        self._stalled = False
        self._paused_shown_at = float("-inf")
        self.plot_w = DEFAULT_PLOT_W
        self.updates_sent = 0
        self.bytes_sent = 0
        self.messages_received: dict[str, int] = {}
        super().__init__(view_id=f"tc{uuid.uuid4().hex[:10]}", **kwargs)
        self.on_msg(self._on_custom_msg)

    # ---- the renderer interface TracePlot drives (see _traceplot._BqplotRenderer) ------------
    @property
    def children(self) -> list[Any]:
        """What a TracePlot shows: this widget."""
        return [self]

    def connect(self, on_change: Callable[[str, Any], None]) -> None:
        """Call ``on_change(name, value)`` when the browser edits window_s, autoscale or paused."""
        for name in ("window_s", "autoscale", "paused"):
            self.observe(lambda c: on_change(c["name"], c["new"]), names=name)

    def set_channels(self, channels: tuple[str, ...]) -> None:
        self.channels = list(channels)

    def show_state(self, pump: Any) -> None:
        """Show the pump's window, autoscale and pause state in the controls."""
        self.window_s = pump.window_s
        self.autoscale = pump.autoscale
        self.paused = pump.paused

    def show_status(
        self, n_samples: int, rows_lost: int, error: str | None, paused: int | None = None
    ) -> None:
        """Counts travel in every update's header; the synced trait is for errors, stalls and,
        while paused (no updates then), the rows that came since, at most once a second."""
        if error:
            self.status = ("error", error)
        elif paused is not None:
            now = self.clock()
            if self.status[0] != "paused" or now - self._paused_shown_at >= PAUSED_EVERY_S:
                self._paused_shown_at = now
                self.status = ("paused", paused_text(paused))
        elif self._stalled:
            self.status = ("warning", STALLED)
        else:
            self.status = ("ok", "")

    # ---- browser -> kernel ------------------------------------------------------------------
    def _on_custom_msg(self, _widget: Any, content: dict, buffers: list) -> None:
        kind = str(content.get("type", "?"))
        with self._lock:
            self.messages_received[kind] = self.messages_received.get(kind, 0) + 1
        if kind == "ack":
            if self._credit.ack_through(int(content.get("seq", -1)), self.clock()) is not None:
                self._stalled = False
        elif kind == "ready":
            with self._lock:
                self._views.add(str(content.get("view", "")))
            self._credit.reset()
        elif kind == "closed":
            with self._lock:
                self._views.discard(str(content.get("view", "")))
        elif kind == "resize":
            try:
                self.plot_w = max(16, min(8192, int(content["plot_w"])))
            except (KeyError, TypeError, ValueError):
                logger.warning("ignoring malformed resize message %r", content)
        else:
            logger.debug("TraceCanvas %s: unknown message type %r", self.view_id, kind)

    # ---- kernel -> browser ------------------------------------------------------------------
    @property
    def views(self) -> int:
        """Browser views that said "ready" and have not closed."""
        with self._lock:
            return len(self._views)

    def max_points(self) -> int:
        """Rows per update: a min and a max per device pixel of the plot width."""
        return 2 * self.plot_w

    def ready(self) -> bool:
        """True when an update may go now: a view exists, credit is left, the rate cap allows."""
        if not self.views:
            return False
        # 10% slack: a refresh thread ticking at exactly max_rate_hz must not miss every other tick
        # (its period bounds the average rate; this bounds bursts)
        now = self.clock()
        if now - self._last_send < 0.9 / self.max_rate_hz:
            return False
        can = self._credit.has_credit(now)
        if self._credit.timeouts > self._timeouts_seen:  # acks stopped coming: say why
            self._timeouts_seen = self._credit.timeouts
            self._stalled = True
        return can

    def draw(self, frame: Any) -> bool:
        """Send one :class:`~labkit.widgets._trace_pump.TraceFrame`; False when there is no credit."""
        now = self.clock()
        seq = self._credit.acquire(now)
        if seq is None:
            return False
        content, buffers = encode_traces(
            seq,
            frame.t_rel,
            frame.values,
            t_end=frame.t_end,
            window_s=frame.window_s,
            y_range=frame.y_range,
            n_samples=frame.n_samples,
            rows_lost=frame.rows_lost,
        )
        self.send(content, buffers=buffers)
        self._last_send = now
        self.updates_sent += 1
        self.bytes_sent += sum(len(b) for b in buffers)
        return True

    @property
    def credit_timeouts(self) -> int:
        """Updates whose ack never came in time (a busy kernel or a closed page)."""
        return self._credit.timeouts
