"""The engine core: owns the devices, the frame ring and trace buffer, runs the acquisition loop.

The same :class:`Engine` object runs inside the notebook's process (thread mode, called directly under
a lock) or inside a child process / ``labkit engine`` server (called from the server loop). It knows
nothing about transports: it reports events through the ``emit(topic, payload)`` callable it is given.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from labkit.buffers import FrameRing, TraceBuffer
from labkit.engine import _commands as cmds
from labkit.engine._frames import frame_to_dataarray, jsonable
from labkit.engine._state import (
    EngineError,
    EngineState,
    EngineStateError,
    ScopeHealth,
    check_transition,
)

log = logging.getLogger(__name__)

__all__ = ["Engine", "UnknownDeviceError"]

Emit = Callable[[str, dict], None]

_HEALTH_PERIOD_S = 1.0
_SIGNAL_PERIOD_S = 0.02
_SHAPE_PROPERTIES = frozenset({"roi", "binning", "bit_depth"})  # camera settings that change frames
_ATTRIBUTES = frozenset({"shape", "dtype", "pixel_size_um", "channels", "kind", "name"})


class UnknownDeviceError(EngineError, LookupError):
    """A command named a device the engine does not own (the message lists those it owns)."""


class Engine:
    """Owns devices, ring and trace buffer; validates and runs commands; paces the camera.

    ``emit(topic, payload)`` is called from any engine thread (acquisition loop, command caller) and
    must be thread-safe and non-blocking.
    """

    def __init__(self, devices: dict[str, Any], emit: Emit, ring_slots: int = 64) -> None:
        if not devices:
            raise ValueError(
                "an engine needs at least one device; pass devices=None for the simulated set"
            )
        self.devices = dict(devices)
        self._emit = emit
        self.ring_slots = int(ring_slots)
        self.state = EngineState.CREATED
        self.ring: FrameRing | None = None
        self.trace: TraceBuffer | None = None
        self.camera = self._find("camera")
        self.stage = self._find("stage")
        self.signal = self._find("signal")
        # the ring and the camera's shape: held while a frame is rendered and while the shape changes.
        # Other device access takes no engine lock (devices are thread-safe), so a property set while
        # streaming never waits for a frame to render.
        self._ring_lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._wake = threading.Event()
        self._closing = False
        self._running = False
        self._worker: threading.Thread | None = None
        self._t_open = time.monotonic()
        self._t_running = self._t_open
        self._frames_acquired = 0
        self._frames_late = 0
        self._frame_times: deque[float] = deque(maxlen=512)
        self._listeners: list[tuple[Any, Callable]] = []
        self.worker_ident: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the ring and trace buffer, hook device listeners, start the worker: ``ready``."""
        with self._state_lock:
            check_transition(self.state, EngineState.READY, "open the engine")
            self._ensure_ring(announce=False)
            if self.signal is not None:
                self.trace = TraceBuffer.create(tuple(self.signal.channels))
            for name, dev in self.devices.items():
                fn = self._make_listener(name)
                dev.add_listener(fn)
                self._listeners.append((dev, fn))
            self._t_open = time.monotonic()
            self._worker = threading.Thread(
                target=self._run_worker, name="labkit-engine-acq", daemon=True
            )
            self._worker.start()
            self._set_state(EngineState.READY)

    def close(self) -> None:
        """Stop acquisition, release the ring, trace buffer and devices (idempotent)."""
        with self._state_lock:
            if self.state is EngineState.CLOSED or self._closing:
                return
            self._running = False
            self._closing = True
            self._wake.set()
            worker, self._worker = self._worker, None
        # join outside the state lock: a crashing loop takes it to report the failure
        if worker is not None and worker is not threading.current_thread():
            worker.join(10.0)
        with self._state_lock:
            for dev, fn in self._listeners:
                try:
                    dev.remove_listener(fn)
                except Exception:  # pragma: no cover - device already gone
                    pass
            self._listeners.clear()
            for dev in self.devices.values():
                try:
                    dev.close()
                except Exception:
                    log.exception("closing device %r failed", getattr(dev, "name", dev))
            for buf in (self.ring, self.trace):
                if buf is not None:
                    buf.close()
            self.ring = self.trace = None
            self._set_state(EngineState.CLOSED)

    def _set_state(self, state: EngineState, reason: str = "") -> None:
        previous, self.state = self.state, state
        if previous is not state:
            log.info("engine %s -> %s", previous.value, state.value)
            payload = {"state": state.value, "previous": previous.value}
            if reason:
                payload["reason"] = reason
            self._emit("state", payload)

    # -- dispatch --------------------------------------------------------------------------------

    def dispatch(self, method: Any, params: Any) -> Any:
        """Validate ``params`` for ``method`` and run the command; returns a wire-encodable result.

        Raises:
            UnknownCommandError, CommandError: the request itself is wrong.
            EngineStateError: the command is not allowed in the current state.
            PropertyError and subclasses: a property value was rejected by the device.
        """
        checked = cmds.validate_params(method, params)
        if self.state is EngineState.CLOSED:
            raise EngineStateError(
                f"the engine is closed; command {method!r} was not run", self.state
            )
        return getattr(self, f"cmd_{method}")(checked)

    def _device(self, name: str) -> Any:
        try:
            return self.devices[name]
        except KeyError:
            raise UnknownDeviceError(
                f"no device named {name!r} in this engine; devices: {', '.join(self.devices)}"
            ) from None

    def _find(self, kind: str) -> Any:
        if kind in self.devices:
            return self.devices[kind]
        for dev in self.devices.values():
            if _kind_of(dev) == kind:
                return dev
        return None

    # -- commands --------------------------------------------------------------------------------

    def cmd_hello(self, p: cmds.Hello) -> dict:
        return {**self.cmd_status(p), "pid": os.getpid()}

    def cmd_ping(self, p: cmds.NoParams) -> str:
        return "pong"

    def cmd_status(self, p: Any) -> dict:
        return {
            "state": self.state.value,
            "ring_name": None if self.ring is None else self.ring.name,
            "trace_name": None if self.trace is None else self.trace.name,
            "devices": {name: _kind_of(dev) for name, dev in self.devices.items()},
        }

    def cmd_describe(self, p: cmds.Describe) -> dict:
        if p.device is not None:
            return jsonable(self._device(p.device).describe())
        return {name: jsonable(dev.describe()) for name, dev in self.devices.items()}

    def cmd_device_settings(self, p: cmds.NoParams) -> dict:
        return {
            name: jsonable(dev.describe().get("values", {})) for name, dev in self.devices.items()
        }

    def cmd_get_property(self, p: cmds.GetProperty) -> Any:
        return jsonable(self._device(p.device).get(p.name))

    def cmd_set_property(self, p: cmds.SetProperty) -> Any:
        dev = self._device(p.device)
        if dev is self.camera and p.name in _SHAPE_PROPERTIES:
            with self._ring_lock:  # no frame is rendered with one shape into a ring of another
                dev.set(p.name, p.value)
                if self._running:
                    self._ensure_ring(announce=True)
        else:
            dev.set(p.name, p.value)
        return jsonable(dev.get(p.name))

    def cmd_get_attribute(self, p: cmds.GetAttribute) -> Any:
        dev = self._device(p.device)
        if p.name not in _ATTRIBUTES:
            raise cmds.CommandError(
                f"attribute {p.name!r} is not readable remotely; readable: {', '.join(sorted(_ATTRIBUTES))}"
            )
        if p.name == "kind":
            return _kind_of(dev)
        value = getattr(dev, p.name)
        if p.name == "dtype":
            return np.dtype(value).str
        return jsonable(value)

    def cmd_snap(self, p: cmds.Snap) -> Any:
        dev = self._device(p.device)
        data, meta = dev.snap()
        return frame_to_dataarray(dev, data, meta)

    def cmd_start(self, p: Any = None) -> dict:
        with self._state_lock:
            check_transition(self.state, EngineState.RUNNING)
            with self._ring_lock:
                self._ensure_ring(announce=True)
                if self.signal is not None:
                    self.signal.read()  # drop the backlog gathered while idle
            self._frame_times.clear()
            self._t_running = time.monotonic()
            self._running = True
            self._wake.set()
            self._set_state(EngineState.RUNNING)
            return self.cmd_status(p)

    def cmd_stop(self, p: Any = None) -> dict:
        with self._state_lock:
            check_transition(self.state, EngineState.STOPPED)
            with self._ring_lock:
                self._running = False
            self._set_state(EngineState.STOPPED)
            return self.cmd_status(p)

    def cmd_health(self, p: Any = None) -> dict:
        return self.health().to_json()

    def cmd_move_stage(self, p: cmds.MoveStage) -> list[float]:
        dev = self._device(p.device)
        dev.move(x=p.x_um, y=p.y_um, z=p.z_um)
        if p.wait:
            dev.wait(p.timeout_s)
        return [float(v) for v in dev.position()]

    def cmd_stage_position(self, p: cmds.StageCall) -> list[float]:
        return [float(v) for v in self._device(p.device).position()]

    def cmd_stage_wait(self, p: cmds.StageCall) -> list[float]:
        dev = self._device(p.device)
        dev.wait(p.timeout_s)
        return [float(v) for v in dev.position()]

    def cmd_stage_is_moving(self, p: cmds.StageCall) -> bool:
        return bool(self._device(p.device).is_moving())

    def cmd_shutdown(self, p: Any) -> str:
        return "bye"  # the server loop closes the engine after replying

    # -- acquisition -----------------------------------------------------------------------------

    def health(self) -> ScopeHealth:
        ring = self.ring
        stats: dict[str, Any] = ring.stats() if ring is not None else {"fill": 0.0, "readers": {}}
        now = time.monotonic()
        times = [t for t in self._frame_times if now - t <= 1.0]
        fps = 0.0
        window_s = min(1.0, now - self._t_running)  # frames in the last second (or since start)
        if self._running and window_s > 0.05:
            fps = len(times) / window_s
        readers = {
            str(k): {"lag": int(v.get("lag", 0)), "frames_lost": int(v.get("frames_lost", 0))}
            for k, v in stats.get("readers", {}).items()
        }
        return ScopeHealth(
            state=self.state,
            frames_acquired=self._frames_acquired,
            fps=float(fps),
            ring_fill=float(stats.get("fill", 0.0)),
            readers=readers,
            uptime_s=now - self._t_open,
            frames_late=self._frames_late,
            ring_name=None if ring is None else ring.name,
        )

    def _ensure_ring(self, announce: bool) -> None:
        """(Re)create the ring when the camera's shape or dtype no longer matches (ring lock held)."""
        if self.camera is None:
            return
        shape, dtype = tuple(self.camera.shape), np.dtype(self.camera.dtype)
        ring = self.ring
        if ring is not None and tuple(ring.shape) == shape and np.dtype(ring.dtype) == dtype:
            return
        new = FrameRing.create(shape, dtype, n_slots=self.ring_slots)
        self.ring = new
        if ring is not None:
            ring.close()
        log.info("frame ring %s: %s %s x %d slots", new.name, shape, dtype, self.ring_slots)
        if announce:
            self._emit("ring", {"ring_name": new.name, "shape": list(shape), "dtype": dtype.str})

    def _acquire_one(self) -> None:
        with self._ring_lock:
            if not self._running or self.ring is None:
                return
            self._ensure_ring(announce=True)  # a shape change the engine did not see coming
            with self.ring.claim() as slot:
                meta = self.camera.render_into(slot.array)
                slot.meta.update(_frame_meta(meta))
                self._frames_acquired += 1  # before publishing: a reader never sees more than this
                self._frame_times.append(time.monotonic())

    def _frame_period_s(self) -> float:
        """Seconds between frames: 1/frame_rate_hz, but never shorter than the exposure."""
        period = 1.0 / max(float(self.camera.frame_rate_hz), 1e-3)
        exposure_ms = getattr(self.camera, "exposure_ms", None)
        if isinstance(exposure_ms, (int, float)):
            period = max(period, float(exposure_ms) / 1000.0)
        return period

    def _poll_signal(self) -> None:
        if self.signal is None or self.trace is None:
            return
        t, v = self.signal.read()
        if len(t):
            self.trace.write(t, v)

    def _run_worker(self) -> None:
        self.worker_ident = threading.get_ident()
        now = time.monotonic()
        next_frame = next_signal = now
        next_health = now + _HEALTH_PERIOD_S
        try:
            while not self._closing:
                now = time.monotonic()
                if self._running and self.camera is not None:
                    if now >= next_frame:
                        self._acquire_one()
                        period = self._frame_period_s()
                        next_frame += period
                        behind_s = time.monotonic() - next_frame
                        if behind_s > period:  # a whole frame slot missed: skip it, never burst
                            skipped = int(behind_s // period)
                            self._frames_late += skipped
                            next_frame += skipped * period
                else:
                    next_frame = now
                if self._running and now >= next_signal:
                    self._poll_signal()
                    next_signal = now + _SIGNAL_PERIOD_S
                if now >= next_health:
                    self._emit("health", self.health().to_json())
                    next_health = now + _HEALTH_PERIOD_S
                deadline = min(next_health, next_signal if self._running else next_health)
                if self._running:
                    deadline = min(deadline, next_frame)
                timeout = deadline - time.monotonic()
                if timeout > 0:
                    self._wake.wait(timeout)
                    self._wake.clear()
        except Exception as exc:
            log.exception("acquisition loop crashed")
            with self._state_lock:
                self._running = False
                self._emit(
                    "error",
                    {"type": type(exc).__name__, "message": str(exc), "where": "acquisition"},
                )
                if self.state not in (EngineState.CLOSED, EngineState.FAILED):
                    self._set_state(
                        EngineState.FAILED, f"acquisition failed: {type(exc).__name__}: {exc}"
                    )

    def _make_listener(self, device_name: str) -> Callable[..., None]:
        def on_change(dev_name: str, prop_name: str, value: Any) -> None:
            self._emit(
                "property", {"device": device_name, "name": prop_name, "value": jsonable(value)}
            )

        return on_change


_META_KEYS = ("timestamp_s", "exposure_ms", "z_um", "x_um", "y_um")


def _frame_meta(meta: dict | None) -> dict:
    if not meta:
        return {"timestamp_s": time.time()}
    return {k: float(meta[k]) for k in _META_KEYS if k in meta and meta[k] is not None}


def _kind_of(dev: Any) -> str:
    kind = getattr(dev, "kind", None)
    if isinstance(kind, str):
        return kind
    try:
        return str(dev.describe().get("kind", "device"))
    except Exception:  # pragma: no cover
        return "device"
