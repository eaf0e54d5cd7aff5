"""Acquisition threads: one per camera (each paced by its own frame rate, with its own ring and
health figures) and one that samples every signal into its trace buffer.

A camera's loop renders into a claimed ring slot (zero copy), never faster than one frame per
exposure; jitter under a frame period is caught up, whole periods missed are skipped and counted
(``frames_late``), never burst. The ring is recreated when the camera's shape or dtype changes.
A camera with ``start_streaming()``/``stop_streaming()`` (one that runs free while streaming, e.g.
Micro-Manager's sequence acquisition) is told when its stream starts and stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.buffers import FrameRing, TraceBuffer

log = logging.getLogger(__name__)

__all__ = ["CameraLoop", "SignalPump"]

_SIGNAL_PERIOD_S = 0.02
_META_KEYS = ("timestamp_s", "exposure_ms", "z_um", "x_um", "y_um")


class CameraLoop:
    """The acquisition thread of one camera and its frame ring.

    ``on_ring(name, ring)`` is called when a new ring replaces the old one (shape change);
    ``on_crash(name, exc)`` when the loop dies (the engine fails then).
    """

    def __init__(
        self,
        name: str,
        camera: Any,
        ring_slots: int,
        on_ring: Callable[[str, FrameRing], None],
        on_crash: Callable[[str, BaseException], None],
    ) -> None:
        self.name, self.camera, self.ring_slots = name, camera, int(ring_slots)
        self._on_ring, self._on_crash = on_ring, on_crash
        self.ring: FrameRing | None = None
        self.ring_lock = threading.RLock()  # held while a frame renders and while the shape changes
        self._wake = threading.Event()
        self._running = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self.frames_acquired = 0
        self.frames_late = 0
        self._frame_times: deque[float] = deque(maxlen=512)
        self._t_running = time.monotonic()
        self.ident: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        with self.ring_lock:
            self.ensure_ring(announce=False)
        self._thread = threading.Thread(
            target=self._run, name=f"labkit-acq-{self.name}", daemon=True
        )
        self._thread.start()

    def set_running(self, running: bool) -> None:
        """Start or stop streaming; a camera's ``start_streaming`` error stops the start."""
        with self.ring_lock:  # no frame is being rendered meanwhile
            was_running = self._running
            if running:
                self.ensure_ring(announce=True)
                if not was_running:
                    _tell(self.camera, "start_streaming")
                self._frame_times.clear()
                self._t_running = time.monotonic()
            self._running = running
        if was_running and not running:
            _tell(self.camera, "stop_streaming")
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._running

    def close(self) -> None:
        was_running, self._running = self._running, False
        self._closing = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10.0)
        if was_running:
            _tell_quietly(self.camera, "stop_streaming")
        with self.ring_lock:
            if self.ring is not None:
                self.ring.close()
                self.ring = None

    # -- the ring --------------------------------------------------------------------------------

    def ensure_ring(self, announce: bool) -> None:
        """(Re)create the ring when the camera's shape or dtype no longer matches (lock held)."""
        shape, dtype = tuple(self.camera.shape), np.dtype(self.camera.dtype)
        ring = self.ring
        if ring is not None and tuple(ring.shape) == shape and np.dtype(ring.dtype) == dtype:
            return
        new = FrameRing.create(shape, dtype, n_slots=self.ring_slots)
        self.ring = new
        if ring is not None:
            ring.close()
        log.info("frame ring %s of %s: %s %s x %d slots", new.name, self.name, shape, dtype,
                 self.ring_slots)  # fmt: skip
        if announce:
            self._on_ring(self.name, new)

    # -- health ----------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        ring = self.ring
        stats: dict[str, Any] = ring.stats() if ring is not None else {"fill": 0.0, "readers": {}}
        now = time.monotonic()
        window_s = min(1.0, now - self._t_running)  # frames in the last second (or since start)
        fps = 0.0
        if self._running and window_s > 0.05:
            fps = sum(1 for t in self._frame_times if now - t <= 1.0) / window_s
        readers = {
            str(k): {"lag": int(v.get("lag", 0)), "frames_lost": int(v.get("frames_lost", 0))}
            for k, v in stats.get("readers", {}).items()
        }
        return {
            "frames_acquired": self.frames_acquired,
            "fps": float(fps),
            "frames_late": self.frames_late,
            "ring_fill": float(stats.get("fill", 0.0)),
            "readers": readers,
            "ring_name": None if ring is None else ring.name,
        }

    # -- the loop --------------------------------------------------------------------------------

    def _acquire_one(self) -> None:
        with self.ring_lock:
            if not self._running or self.ring is None:
                return
            self.ensure_ring(announce=True)  # a shape change the engine did not see coming
            with self.ring.claim() as slot:
                meta = self.camera.render_into(slot.array)
                slot.meta.update(_frame_meta(meta))
                self.frames_acquired += 1  # before publishing: a reader never sees more than this
                self._frame_times.append(time.monotonic())

    def _period_s(self) -> float:
        """Seconds between frames: 1/frame_rate_hz, but never shorter than the exposure."""
        period = 1.0 / max(float(self.camera.frame_rate_hz), 1e-3)
        exposure_ms = getattr(self.camera, "exposure_ms", None)
        if isinstance(exposure_ms, (int, float)):
            period = max(period, float(exposure_ms) / 1000.0)
        return period

    def _run(self) -> None:
        self.ident = threading.get_ident()
        next_frame = time.monotonic()
        try:
            while not self._closing:
                if not self._running:
                    self._wake.wait()
                    self._wake.clear()
                    next_frame = time.monotonic()
                    continue
                now = time.monotonic()
                if now >= next_frame:
                    self._acquire_one()
                    period = self._period_s()
                    next_frame += period
                    behind_s = time.monotonic() - next_frame
                    if behind_s > period:  # a whole frame slot missed: skip it, never burst
                        skipped = int(behind_s // period)
                        self.frames_late += skipped
                        next_frame += skipped * period
                timeout = next_frame - time.monotonic()
                if timeout > 0:
                    self._wake.wait(timeout)
                    self._wake.clear()
        except Exception as exc:
            log.exception("acquisition of %s crashed", self.name)
            self._running = False
            _tell_quietly(self.camera, "stop_streaming")
            self._on_crash(self.name, exc)


class SignalPump:
    """Samples every signal into its trace buffer while running; calls ``tick()`` every loop."""

    def __init__(
        self,
        signals: dict[str, Any],
        buffers: dict[str, TraceBuffer],
        tick: Callable[[], None],
        on_crash: Callable[[str, BaseException], None],
        tick_period_s: float = 1.0,
    ) -> None:
        self.signals, self.buffers = signals, buffers
        self._tick, self._on_crash, self._tick_period_s = tick, on_crash, tick_period_s
        self._wake = threading.Event()
        self._running = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self.ident: int | None = None

    def open(self) -> None:
        self._thread = threading.Thread(target=self._run, name="labkit-engine-acq", daemon=True)
        self._thread.start()

    def set_running(self, running: bool) -> None:
        if running:
            for signal in self.signals.values():
                signal.read()  # drop the backlog gathered while idle
        self._running = running
        self._wake.set()

    def close(self) -> None:
        self._running = False
        self._closing = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(10.0)

    def _run(self) -> None:
        self.ident = threading.get_ident()
        now = time.monotonic()
        next_sample, next_tick = now, now + self._tick_period_s
        current = ""
        try:
            while not self._closing:
                now = time.monotonic()
                if self._running and now >= next_sample:
                    for name, signal in self.signals.items():
                        current = name
                        t, v = signal.read()
                        if len(t):
                            self.buffers[name].write(t, v)
                    current = ""
                    next_sample = now + _SIGNAL_PERIOD_S
                if now >= next_tick:
                    self._tick()
                    next_tick = now + self._tick_period_s
                deadline = min(next_tick, next_sample) if self._running else next_tick
                timeout = deadline - time.monotonic()
                if timeout > 0:
                    self._wake.wait(timeout)
                    self._wake.clear()
        except Exception as exc:
            log.exception("signal sampling crashed")
            self._running = False
            self._on_crash(current or "engine", exc)


def _tell(camera: Any, hook: str) -> None:
    """Call the camera's optional streaming hook (``start_streaming``/``stop_streaming``)."""
    method = getattr(camera, hook, None)
    if callable(method):
        method()


def _tell_quietly(camera: Any, hook: str) -> None:
    """The hook on a path that is failing or closing already: its own error is only logged."""
    try:
        _tell(camera, hook)
    except Exception:
        log.exception("%s of %r failed", hook, getattr(camera, "name", camera))


def _frame_meta(meta: dict | None) -> dict:
    if not meta:
        return {"timestamp_s": time.time()}
    return {k: float(meta[k]) for k in _META_KEYS if k in meta and meta[k] is not None}
