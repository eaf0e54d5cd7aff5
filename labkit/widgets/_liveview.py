"""``LiveView``: the live camera widget (anywidget; front end in js/src/liveview/).

A pump thread owned by the widget sends the newest frame whenever it has credit (at most two
frames unacknowledged; the browser acks on receipt; newest wins, nothing queues), cropped to
the visible region and binned to the canvas resolution, as raw uint16 by default. Contrast,
gamma, colormap, zoom, pan, histogram, ROI drawing and profiles happen in the browser; the
kernel never re-renders for them.

Kernel busy: ipykernel reads comm messages (acks) only between cells, so while a cell runs the
view pauses after two frames and then sends one frame per credit timeout (1.5 s), with a warning
under the image; it resumes at full rate when the cell ends. A view whose browser pages are all
closed (or silent for ``ORPHAN_TIMEOUTS`` credit timeouts, ~1 min) stops sending until a page
speaks again.

Send rate: each browser view measures how often it really paints (its requestAnimationFrame
rate) and reports it; the pump spaces sends to ``min(max_fps, paint rate)`` (``send_cap_fps`` in
:attr:`LiveView.stats`), taking the newest frame when a send is due, so it does not bin, encode
and send frames the browser would replace before painting them. Frames skipped while the cap
held are counted in ``frames_skipped_cap``, those skipped for lack of credit in
``frames_skipped_credit``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import anywidget
import numpy as np
import traitlets

from labkit.widgets._binning import Viewport, encode_view
from labkit.widgets._frontends import close_with_comm, running_in_marimo
from labkit.widgets._liveview_snapshots import NO_FRAME, SnapshotRequests
from labkit.widgets._liveview_sources import (
    COLORMAPS,
    ArraySource,
    FrameSource,
    as_source,
    check_contrast,
    check_roi,
    check_width,
    frame_to_dataarray,
)
from labkit.widgets._static import bundle_path
from labkit.widgets._transport import (
    BrowserViews,
    CreditWindow,
    EncodingPolicy,
    SendPacer,
    frame_rate,
)

__all__ = ["COLORMAPS", "ArraySource", "FrameSource", "LiveView"]

log = logging.getLogger(__name__)

# After this many credit timeouts in a row without any browser message (~60 s at 1.5 s each),
# the page is probably gone: stop sending until a browser speaks again.
ORPHAN_TIMEOUTS = 40


class LiveView(anywidget.AnyWidget):
    """Live frames of a camera (or any frame source) in a notebook, Voila or marimo.

    ``source``: a ``Scope`` (read through its own ring reader, reopened when the ring changes;
    ``stream`` names which camera, default the first: see ``scope.streams``), a ``RingReader``,
    an :class:`ArraySource`, a 2-D numpy array / ``xr.DataArray``, or any object with
    ``latest() -> Frame | None``.
    ``encoding``: ``"auto"`` (raw16, falling back to 8 bits or JPEG on slow links; JPEG first
    under marimo), ``"raw16"``, ``"raw8"`` or ``"jpeg"``. ``max_fps``: cap on frames sent per
    second (None: as fast as the browser paints). ``pace_to_paint``: hold sends to the paint
    rate the browser reports (False: send whenever there is credit, as before; for
    comparisons). ``colormap``: one of :data:`COLORMAPS`.
    ``contrast``: ``(lo, hi[, gamma])`` in data units, None for automatic (percentiles of the
    first frame). ``width_px``: maximum CSS width of the image (0, the default: as wide as the
    page gives the widget, and no taller than the window shows).

    Use as a context manager or call :meth:`close`: it stops the pump thread and closes the
    reader the view opened. Raises ``TypeError`` for a source it cannot show and ``ValueError``
    for a bad encoding, colormap or contrast.
    """

    view_id = traitlets.Unicode("").tag(sync=True)
    colormap = traitlets.Unicode("gray").tag(sync=True)
    contrast = traitlets.Tuple(default_value=None, allow_none=True).tag(sync=True)
    roi = traitlets.Tuple(default_value=None, allow_none=True).tag(sync=True)
    width_px = traitlets.Int(0).tag(sync=True)
    #: (level, message) shown under the image: level "ok", "warning" (yellow) or "error" (red)
    status = traitlets.Tuple(("ok", "")).tag(sync=True)
    #: labelled boxes drawn over the image, ``[{name, x, y, w, h, color}]`` in frame pixels
    #: (bead ROIs)
    marks = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: the toolbar's Pick button: "" (none), "off" or "on" (a click picks, see :meth:`on_pick`)
    pick = traitlets.Enum(("", "off", "on"), "").tag(sync=True)

    def __init__(
        self,
        source: Any,
        encoding: str = "auto",
        max_fps: float | None = None,
        colormap: str = "gray",
        contrast: tuple[float, ...] | None = None,
        width_px: int = 0,
        *,
        max_in_flight: int = 2,
        credit_timeout_s: float = 1.5,
        jpeg_quality: int = 85,
        pace_to_paint: bool = True,
        paint_headroom: float = 1.0,
        stream: str | None = None,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - set(type(self).class_trait_names()))
        if unknown:
            raise TypeError(
                f"LiveView got unknown keyword arguments {unknown}; it takes encoding, max_fps, "
                "colormap, contrast, width_px, max_in_flight, credit_timeout_s, jpeg_quality, "
                "pace_to_paint, paint_headroom, stream and widget traits such as layout"
            )
        self._pacer = SendPacer(max_fps, headroom=paint_headroom)  # ValueError for a bad max_fps
        self.pace_to_paint = pace_to_paint
        view_id = f"lv{uuid.uuid4().hex[:10]}"
        self._source, self._owns_source = as_source(
            source, reader_name=f"liveview-{view_id}", stream=stream
        )
        #: the scope stream shown (None: the first camera, or not a scope)
        self.stream = stream
        self._source_bits = 8 * np.dtype(getattr(self._source, "dtype", np.uint16)).itemsize
        self._policy = EncodingPolicy(
            encoding, source_bits=self._source_bits, prefer_small=running_in_marimo()
        )
        self._credit = CreditWindow(max_in_flight, credit_timeout_s)
        self.jpeg_quality = jpeg_quality
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._viewport: Viewport | None = None
        self._views = BrowserViews()
        self._held: str | None = None  # why the last send had to wait: "cap" or "credit"
        self._sent_frames: deque[tuple[int, float]] = deque(maxlen=64)  # (index, camera time)
        self._dirty = False
        self._last_index: int | None = None
        self._seq_bytes: dict[int, int] = {}
        self._rtts: deque[float] = deque(maxlen=100)
        self._kernel_ms: deque[float] = deque(maxlen=100)
        self._ack_to_send: deque[float] = deque(maxlen=100)  # s: ack read -> next frame sent
        self._frame_age: deque[float] = deque(maxlen=100)  # s: camera timestamp -> sent
        self._ack_t: float | None = None
        self._browser_stats: dict[str, Any] = {}
        self._counters = {
            "frames_sent": 0,
            "bytes_sent": 0,
            "frames_skipped": 0,
            "frames_skipped_cap": 0,
            "frames_skipped_credit": 0,
            "torn": 0,
            "errors": 0,
        }
        self._snapshots = SnapshotRequests()
        self._pick_callbacks: list[Callable[[float, float], None]] = []
        self.last_snapshot: Any = None
        self.error: str | None = None
        self.messages_received: dict[str, int] = {}
        self._timeouts_seen = 0
        self._stalled = False
        self._timeouts_at_contact = 0  # credit timeouts counted at the last browser message
        # anywidget picks _esm up from the instance: the built bundle, read now so a rebuild
        # (npm run build) shows up in the next view without restarting the kernel
        self._esm = bundle_path("liveview").read_text(encoding="utf-8")
        super().__init__(view_id=view_id, colormap=colormap, width_px=width_px, **kwargs)
        if contrast is not None:
            self.contrast = contrast
        self.on_msg(self._on_custom_msg)
        close_with_comm(self)  # marimo re-running the cell closes the comm: stop the pump too

    # ---- validation -------------------------------------------------------------------------
    @traitlets.validate("colormap")
    def _check_colormap(self, proposal: Any) -> str:
        name = proposal["value"]
        if name not in COLORMAPS:
            raise traitlets.TraitError(
                f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}"
            )
        return name

    @traitlets.validate("contrast")
    def _check_contrast(self, proposal: Any) -> tuple[float, float, float] | None:
        return check_contrast(proposal["value"])

    @traitlets.validate("roi")
    def _check_roi(self, proposal: Any) -> tuple[int, int, int, int] | None:
        return check_roi(proposal["value"])

    @traitlets.validate("width_px")
    def _check_width(self, proposal: Any) -> int:
        return check_width(proposal["value"])

    # ---- public API -------------------------------------------------------------------------
    @property
    def encoding(self) -> str:
        """The encoding in use now (``raw16``, ``raw8`` or ``jpeg``). Set it to one of those or
        to ``"auto"`` to change the choice (``ValueError`` for anything else)."""
        return self._policy.current

    @encoding.setter
    def encoding(self, mode: str) -> None:
        self._policy = EncodingPolicy(
            mode, source_bits=self._source_bits, prefer_small=running_in_marimo()
        )
        with self._lock:
            self._dirty = True  # show the current frame in the new encoding
        self._wake.set()

    @property
    def stats(self) -> dict[str, Any]:
        """Browser counters (updated ~1 Hz: received, painted, dropped, fps_painted,
        latency_ms_p50, …) merged with the kernel's (frames_sent, bytes_sent, credit_timeouts,
        kernel_ms_per_frame, ack_rtt_ms_p50, encoding, …) and the pacing: ``paint_rate_fps``
        (the fastest visible view's, None until measured), ``camera_fps``, ``send_cap_fps`` (min of
        those and ``max_fps``, None if none is known), ``frames_skipped_cap`` /
        ``frames_skipped_credit`` (frames never sent because the cap / the credit held)."""
        with self._lock:
            out = dict(self._browser_stats)
            out.update(self._counters)
            rtts = sorted(self._rtts)
            kms = sorted(self._kernel_ms)
            a2s = sorted(self._ack_to_send)
            age = sorted(self._frame_age)
            sent_frames = list(self._sent_frames)
        camera_fps = frame_rate(sent_frames)
        pacer_cap = self._pacer.cap_fps
        caps = [c for c in (camera_fps, pacer_cap) if c is not None]
        out["camera_fps"] = camera_fps
        out["paint_rate_fps"] = self._pacer.paint_fps
        out["max_fps"] = self._pacer.max_fps
        out["send_cap_fps"] = round(min(caps), 2) if caps else None
        target = self._pacer.target_wait_s  # phase lock: aimed wait of a frame for its paint
        out["paint_wait_target_ms"] = None if target is None else round(1e3 * target, 2)
        out["credit_timeouts"] = self._credit.timeouts
        out["in_flight"] = self._credit.in_flight
        out["encoding"] = self._policy.current
        out["encoding_switches"] = self._policy.switches
        out["ack_rtt_ms_p50"] = 1e3 * rtts[len(rtts) // 2] if rtts else float("nan")
        out["kernel_ms_per_frame"] = kms[len(kms) // 2] if kms else float("nan")
        out["ack_to_send_ms_p50"] = 1e3 * a2s[len(a2s) // 2] if a2s else float("nan")
        out["frame_age_at_send_ms_p50"] = 1e3 * age[len(age) // 2] if age else float("nan")
        out["visible"] = self._views.visible
        return out

    @property
    def max_fps(self) -> float | None:
        """Cap on frames sent per second (None: as fast as the browser paints); settable."""
        return self._pacer.max_fps

    @max_fps.setter
    def max_fps(self, value: float | None) -> None:
        if value is not None and not value > 0:
            raise ValueError(f"max_fps must be > 0 frames/s or None, got {value!r}")
        self._pacer.max_fps = value
        self._wake.set()

    def on_snapshot(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(data_array)`` whenever the Snapshot button is pressed."""
        self._snapshots.callbacks.append(callback)

    def on_pick(self, callback: Callable[[float, float], None]) -> None:
        """Call ``callback(y, x)`` (frame pixels) for each click while Pick is on."""
        self._pick_callbacks.append(callback)
        if not self.pick:
            self.pick = "off"

    def snapshot(self, timeout_s: float = 5.0) -> Any:
        """The newest full-resolution frame as an ``xr.DataArray`` (y, x) with attrs (index,
        timestamp_s, metadata, contrast, colormap, roi). Raises ``TimeoutError`` if the source
        has no frame within ``timeout_s``."""
        if self._thread is not None and self._thread.is_alive():
            fut = self._snapshots.add(from_button=False)
            self._wake.set()
            return fut.result(timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self._source.latest()
            if frame is not None:
                return self._to_dataarray(frame)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no frame from {type(self._source).__name__} within {timeout_s} s; is acquisition running?"
                )
            time.sleep(0.01)

    def start(self) -> None:
        """Start the pump thread (done automatically when a browser view connects)."""
        with self._lock:
            if self._stop.is_set():
                raise RuntimeError("this LiveView is closed; create a new one")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._pump, name=f"labkit-{self.view_id}", daemon=True
                )
                self._thread.start()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # displayed: start pumping now, so a cell that keeps the kernel busy right after the
        # display still gets frames (one per credit timeout) before the browser's "ready" is read
        if not self._stop.is_set():
            self.start()
        return super()._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Stop the pump thread, close the reader this view opened, and close the widget."""
        if not hasattr(self, "_stop"):  # __init__ failed early; ipywidgets' __del__ still calls us
            super().close()
            return
        if self._closed:  # idempotent: super().close() closes the comm, which calls us again
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._snapshots.fail(RuntimeError("the LiveView was closed"))
        if self._owns_source and hasattr(self._source, "close"):
            self._source.close()
        super().close()

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- messages from the browser (kernel main thread) ------------------------------------------
    def _on_custom_msg(self, _widget: Any, content: dict, buffers: list) -> None:
        kind = str(content.get("type", "?"))
        self.messages_received[kind] = self.messages_received.get(kind, 0) + 1
        if self._credit.timeouts - self._timeouts_at_contact >= ORPHAN_TIMEOUTS:
            self._wake.set()  # a browser is back: resume
        self._timeouts_at_contact = self._credit.timeouts
        if kind == "ack":
            seq = int(content.get("seq", -1))
            rtt = self._credit.ack(seq)
            if self._ack_t is None:
                self._ack_t = time.monotonic()
            if self._stalled and rtt is not None:
                self._stalled = False
                self._status("ok", "")
            vsync_in_ms = content.get("vsync_in_ms")
            with self._lock:
                nbytes = self._seq_bytes.pop(seq, 0)
                if rtt is not None:
                    self._rtts.append(rtt)
                if isinstance(vsync_in_ms, (int, float)) and self._views.n_visible == 1:
                    self._pacer.align(vsync_in_ms / 1e3)  # time sends to the page's paints
            if rtt is not None:
                self._policy.record(rtt, nbytes)
            self._wake.set()
        elif kind == "viewport":
            try:
                vp = Viewport.from_message(content)
            except ValueError as exc:
                log.warning("ignoring malformed viewport message %r: %s", content, exc)
                return
            with self._lock:
                self._viewport = vp
                self._dirty = True
            self._wake.set()
        elif kind == "visible":
            # a widget shown twice has two views: send while any of them is visible
            view = str(content.get("view", ""))
            self._views.set_visible(view, bool(content.get("visible", True)))
            self._update_paint_cap()
            self._wake.set()
        elif kind == "paint_rate":
            try:
                self._views.set_paint_fps(str(content.get("view", "")), float(content["fps"]))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("ignoring malformed paint_rate message %r: %s", content, exc)
                return
            self._update_paint_cap()
            self._wake.set()
        elif kind == "ready":
            self._views.ready(str(content.get("view", "")))
            self._update_paint_cap()
            self._credit.reset()
            if self._stalled:
                self._stalled = False
                self._status("ok", "")
            with self._lock:
                self._dirty = True
            self.start()
            self._wake.set()
        elif kind == "closed":
            self._views.closed(str(content.get("view", "")))
            self._update_paint_cap()
        elif kind == "stats":
            report = {k: v for k, v in content.items() if k != "type"}
            with self._lock:
                self._browser_stats = report
        elif kind == "snapshot":
            self._snapshots.add(from_button=True)
            self.start()
            self._wake.set()
        elif kind == "pick":
            for callback in list(self._pick_callbacks):
                try:
                    callback(float(content["y"]), float(content["x"]))
                except Exception as exc:  # noqa: BLE001 - shown under the image
                    self._status("error", f"pick: {type(exc).__name__}: {exc}")
        else:
            log.debug("LiveView %s: unknown message type %r", self.view_id, kind)

    def _update_paint_cap(self) -> None:
        with self._lock:  # the pump reads the pacer under this lock
            self._pacer.paint_fps = self._views.paint_fps() if self.pace_to_paint else None

    # ---- pump thread -----------------------------------------------------------------------------
    def _pump(self) -> None:
        while not self._stop.is_set():
            try:
                self._serve_snapshots()
                if self._pump_once():
                    continue
                self._idle_wait()
            except Exception as exc:  # noqa: BLE001 - shown in the widget, the pump keeps going
                self._counters["errors"] += 1
                error = f"{type(exc).__name__}: {exc}"
                if error != self.error:  # log and show each new error once, not every retry
                    self.error = error
                    log.exception("LiveView %s: sending a frame failed", self.view_id)
                    self._status("error", f"live view error: {error} (retrying)")
                self._stop.wait(0.5)

    def _status(self, level: str, message: str) -> None:
        # a synced trait, not a message: a view that renders later still shows the current state
        try:
            self.status = (level, message)
        except Exception:  # noqa: BLE001 - the comm may already be closed
            log.debug("status not synced", exc_info=True)

    def _can_send(self, now: float | None = None) -> bool:
        views = self._views
        if views.had_view and views.alive == 0:
            return False  # every browser view was closed: nobody to send to
        if self._credit.timeouts - self._timeouts_at_contact >= ORPHAN_TIMEOUTS:
            return False  # no word from any browser for a long time (page closed?): pause
        if not views.visible:
            return False
        can = self._credit.has_credit(now)
        if not can:
            self._held = "credit"
        if self._credit.timeouts > self._timeouts_seen:  # acks stopped coming: say why
            self._timeouts_seen = self._credit.timeouts
            if not self._stalled:
                self._stalled = True
                self._status(
                    "warning",
                    "slowed down: the browser's acks are not read — the kernel is probably busy "
                    "running a cell (one frame per credit timeout until it is idle)",
                )
        return can

    def _pace_wait_s(self, now: float) -> float:
        with self._lock:
            return self._pacer.wait_s(now)

    def _idle_wait(self) -> None:
        if not self._can_send():
            deadline = self._credit.next_deadline()
            timeout = (
                0.25 if deadline is None else max(0.001, min(0.25, deadline - time.monotonic()))
            )
            self._wake.wait(timeout)
            self._wake.clear()
            return
        pace_s = self._pace_wait_s(time.monotonic())
        if pace_s > 0:  # the cap holds the next send: sleep until it is due (or a message)
            self._wake.wait(min(pace_s, 0.25))
            self._wake.clear()
            return
        src = self._source
        if isinstance(src, ArraySource):
            src.wait(0.02, after_index=-1 if self._last_index is None else self._last_index)
        elif hasattr(src, "wait"):
            src.wait(0.02)
        else:
            self._wake.wait(0.004)
        self._wake.clear()

    def _latest(self, copy: bool) -> Any:
        src = self._source
        if not copy and hasattr(src, "lag"):  # ring readers: zero-copy view, checked after binning
            return src.latest(copy=False)
        return src.latest()

    def _pump_once(self, now: float | None = None) -> bool:
        """Send the newest frame if there is credit, the send cap allows it and the frame is new;
        True if it did work. ``now``: monotonic seconds (tests inject a clock)."""
        now = time.monotonic() if now is None else now
        if not self._can_send(now):
            return False
        if self._pace_wait_s(now) > 0:
            self._held = "cap"
            return False
        with self._lock:
            dirty = self._dirty
        src = self._source
        if not dirty and hasattr(src, "lag") and src.lag == 0 and self._last_index is not None:
            return False
        frame = self._latest(copy=False)
        if frame is None or (frame.index == self._last_index and not dirty):
            return False
        cpu0 = time.thread_time()
        with self._lock:
            self._dirty = False
            vp = self._viewport
        full_h, full_w = frame.data.shape[:2]
        if vp is None:
            side = self.width_px or 640  # until the page reports its canvas
            vp = Viewport.fit(full_h, full_w, side, side)
        view = encode_view(frame.data, vp, self._policy.current, self.jpeg_quality)
        if hasattr(frame, "is_intact") and not frame.is_intact():
            self._counters["torn"] += 1  # the ring slot was reused while we read it: next one
            return True
        seq = self._credit.acquire(now)
        if seq is None:  # an ack timeout raced us; try again later
            return False
        content = {
            "type": "frame",
            "seq": seq,
            "index": int(frame.index),
            "timestamp_s": float(frame.timestamp_s),
            "sent_s": time.time(),
            "full_w": int(full_w),
            "full_h": int(full_h),
            "send_cap_fps": self._pacer.cap_fps,
            **view.header(),
        }
        nbytes = view.nbytes
        with self._lock:
            self._seq_bytes[seq] = nbytes
            if len(self._seq_bytes) > 64:  # acks that never came
                for old in sorted(self._seq_bytes)[:-64]:
                    del self._seq_bytes[old]
        self.send(content, buffers=[view.buffer])
        ack_t, self._ack_t = self._ack_t, None
        ack_to_send = None if ack_t is None else time.monotonic() - ack_t
        with self._lock:
            self._pacer.sent(now)
            self._sent_frames.append((int(frame.index), float(frame.timestamp_s)))
        if self._last_index is not None and frame.index > self._last_index + 1:
            gap = frame.index - self._last_index - 1
            self._counters["frames_skipped"] += gap
            if self._held is not None:  # what held the send back last, before it went out
                self._counters[f"frames_skipped_{self._held}"] += gap
        self._held = None
        self._last_index = int(frame.index)
        self._counters["frames_sent"] += 1
        if self.error is not None:  # recovered
            self.error = None
            self._status("ok", "")
        self._counters["bytes_sent"] += nbytes
        with self._lock:
            self._kernel_ms.append(1e3 * (time.thread_time() - cpu0))
            self._frame_age.append(content["sent_s"] - content["timestamp_s"])
            if ack_to_send is not None:
                self._ack_to_send.append(ack_to_send)
        return True

    # ---- snapshots ---------------------------------------------------------------------------------
    def _serve_snapshots(self) -> None:
        button, snap = self._snapshots.serve(lambda: self._latest(copy=True), self._to_dataarray)
        if not button:
            return
        if snap is None:  # the page's button asked: say why there is none, under the image
            self._status("warning", f"no snapshot: {NO_FRAME}")
            return
        self.last_snapshot = snap  # keep it, tell the callbacks, say so
        self._snapshots.notify(snap)
        self._status("ok", f"snapshot of frame {snap.attrs['index']} kept in view.last_snapshot")

    def _to_dataarray(self, frame: Any) -> Any:
        attrs: dict[str, Any] = {"colormap": self.colormap}
        if self.contrast is not None:
            attrs["contrast"] = list(self.contrast)
        if self.roi is not None:
            attrs["roi"] = list(self.roi)
        return frame_to_dataarray(frame, getattr(self._source, "coords", None), attrs)
