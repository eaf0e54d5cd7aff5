"""Bead tracking operations that need the engine's devices: the z table scan, the bead lock and
the bead ROIs setting. One :class:`EngineTracking` per engine, reached through the ``tracking``
command (``{op, args, call_id}``) from ``scope.tracking`` in every mode.

- ``acquire_zlut``: steps the focus stage through z, takes frames from the camera's ring at each
  plane (frames whose recorded stage z is not the plane's are skipped), averages profiles per
  plane per bead, returns the table's plain data (``ZLUT.to_plain()``) — the engine writes no
  file: the caller saves it. ``progress`` events ``{device: "tracking", action:
  "acquire_zlut", call_id, fraction, message}``; ``cancel_zlut`` stops it
  (:class:`ScanCancelledError`); the stage goes back to where it was either way.
- ``engage_lock`` / ``release_lock`` / ``lock_status``: the bead lock (``_bead_lock``).
- ``set_rois`` / ``get_rois``: the bead ROIs as plain data (``[{name, y, x, h, w}]``), a setting
  the settings file saves; a ``tracking`` event ``{rois}`` announces a change.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.buffers import RingReader
from labkit.engine._bead_lock import LockLoop
from labkit.engine._state import EngineError, EngineState, EngineStateError
from labkit.processing import Roi

if TYPE_CHECKING:
    from labkit.engine._engine import Engine

log = logging.getLogger(__name__)

__all__ = ["EngineTracking", "ScanCancelledError"]

_FRAME_TIMEOUT_S = 10.0
_MAX_SKIPPED = 50  # frames at another z before a plane is given up


class ScanCancelledError(EngineError):
    """A z table scan was cancelled (``scope.tracking.cancel_zlut()``); nothing was kept."""


class EngineTracking:
    """The tracking operations of one engine (see the module doc)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._mutex = threading.Lock()
        self._lock: LockLoop | None = None
        self._last_status: dict[str, Any] = {"state": "off", "reason": ""}
        self._cancel = threading.Event()
        self._scanning = False
        self._rois: list[dict[str, Any]] = []
        self._ops: dict[str, Callable[..., Any]] = {
            "acquire_zlut": self.acquire_zlut, "cancel_zlut": self.cancel_zlut,
            "engage_lock": self.engage_lock, "release_lock": self.release_lock,
            "lock_status": self.lock_status, "set_rois": self.set_rois, "get_rois": self.get_rois,
        }  # fmt: skip

    def call(self, op: str, args: dict[str, Any], call_id: str = "") -> Any:
        """Run operation ``op`` with ``args``.

        Raises:
            ValueError: an unknown operation (names them).  TypeError: unknown arguments.
        """
        fn = self._ops.get(op)
        if fn is None:
            raise ValueError(
                f"unknown tracking operation {op!r}; operations: {', '.join(self._ops)}"
            )
        params = inspect.signature(fn).parameters
        try:
            inspect.signature(fn).bind(**args)
        except TypeError:
            accepted = [n for n in params if n != "call_id"]
            raise TypeError(f"{op} takes {accepted}, got {sorted(args)}") from None
        if "call_id" in params:
            return fn(**args, call_id=call_id)
        return fn(**args)

    # -- bead ROIs -------------------------------------------------------------------------------

    def set_rois(self, rois: Sequence[Any]) -> list[dict[str, Any]]:
        checked = [Roi.of(r) for r in rois]
        names = [r.name for r in checked]
        if len(set(names)) != len(names):
            raise ValueError(f"bead ROI names must be unique, got {names}")
        self._rois = [{"name": r.name, "y": r.y, "x": r.x, "h": r.h, "w": r.w} for r in checked]
        self._engine.emit("tracking", {"rois": self._rois})
        return self.get_rois()

    def get_rois(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._rois]

    # -- the z table scan ------------------------------------------------------------------------

    def acquire_zlut(
        self,
        rois: Sequence[Any] | None = None,
        z_range_um: Sequence[float] = (-1.5, 1.5),
        step_um: float = 0.05,
        frames_per_plane: int = 5,
        camera: str = "",
        oversample: int = 4,
        call_id: str = "",
    ) -> dict[str, Any]:
        from labkit.processing.tracking import ZLUTBuilder

        engine = self._engine
        rois = list(rois) if rois else self.get_rois()
        if not rois:
            raise ValueError("no bead ROIs: pick beads first (scope.tracking.find_beads())")
        lo, hi = (float(v) for v in z_range_um)
        if not (hi > lo and step_um > 0 and (hi - lo) / step_um >= 2):
            raise ValueError(
                f"z_range_um={list(z_range_um)} with step_um={step_um} gives fewer than 3 "
                "planes; give (low, high) relative to the focus with low < high"
            )
        if int(frames_per_plane) < 1:
            raise ValueError(f"frames_per_plane must be >= 1, got {frames_per_plane}")
        if engine.state is not EngineState.RUNNING:
            raise EngineStateError(
                "a z table scan reads the camera's frames: start the scope first (scope.start())",
                engine.state,
            )
        stage = engine.stage
        if stage is None:
            raise ValueError("this engine has no stage to step the focus with")
        name = camera or next(iter(engine.cameras))
        stream = engine.streams.get(name)
        with self._mutex:
            if self._scanning:
                raise EngineError("a z table scan is running already; cancel it first")
            self._scanning = True
            self._cancel.clear()
        z0 = float(stage.position()[2])
        planes = z0 + np.arange(lo, hi + step_um / 2, step_um)
        reader = RingReader.attach(stream.buffer, "zlut-scan")
        builder = ZLUTBuilder(rois, stream.shape, stream.dtype, oversample=oversample)
        try:
            for i, z in enumerate(planes):
                self._progress(
                    call_id, i / len(planes), f"plane {i + 1}/{len(planes)}: z {z:.3f} µm"
                )
                self._plane(reader, stage, builder, float(z), int(frames_per_plane), step_um)
            zlut = builder.build()
            self._progress(call_id, 1.0, f"{len(planes)} planes of {len(rois)} beads")
            return zlut.to_plain()
        finally:
            builder.close()
            reader.close()
            stage.move(z=z0)
            with self._mutex:
                self._scanning = False

    def _plane(
        self, reader: RingReader, stage: Any, builder: Any, z: float, n: int, step_um: float
    ) -> None:
        stage.move(z=z)
        stage.wait(30.0)
        reader.latest(copy=False)  # frames exposed before the stage arrived are skipped
        taken = skipped = 0
        while taken < n:
            if self._cancel.is_set():
                raise ScanCancelledError("the z table scan was cancelled; nothing was kept")
            frame = reader.next(timeout=_FRAME_TIMEOUT_S)
            frame_z = frame.meta.get("z_um", math.nan)
            if math.isfinite(frame_z) and abs(frame_z - z) > step_um / 20:
                skipped += 1
                if skipped > _MAX_SKIPPED:
                    raise EngineError(
                        f"the stage did not settle at z {z:.3f} µm ({skipped} frames recorded at "
                        f"z {frame_z:.3f}); check the stage"
                    )
                continue
            builder.add(frame.data, z)
            taken += 1

    def _progress(self, call_id: str, fraction: float, message: str) -> None:
        self._engine.emit("progress", {
            "device": "tracking", "action": "acquire_zlut", "call_id": call_id,
            "fraction": round(fraction, 4), "message": message,
        })  # fmt: skip

    def cancel_zlut(self) -> bool:
        """Stop a running scan; False if none runs."""
        with self._mutex:
            running = self._scanning
        self._cancel.set()
        return running

    # -- the bead lock ---------------------------------------------------------------------------

    def engage_lock(
        self,
        tracker: str,
        bead: str,
        settings: dict[str, Any] | None = None,
        target: Sequence[float | None] | None = None,
    ) -> dict[str, Any]:
        from labkit.processing.tracking import LockController

        engine = self._engine
        if engine.stage is None:
            raise ValueError("this engine has no stage to lock with")
        stream = engine.streams.get(tracker)
        camera = engine.camera
        pixel = float(getattr(camera, "pixel_size_um", 1.0) or 1.0)
        controller = LockController(settings, pixel_size_um=pixel)
        goal = None if target is None else [math.nan if v is None else float(v) for v in target]
        self.release_lock()
        with self._mutex:
            self._lock = LockLoop(stream, bead, controller, engine.stage, self._changed, goal)
            return self._lock.status()

    def _changed(self, status: dict[str, Any]) -> None:
        self._last_status = status
        self._engine.emit("bead_lock", status)

    def release_lock(self) -> dict[str, Any]:
        with self._mutex:
            lock, self._lock = self._lock, None
        if lock is not None:
            self._last_status = lock.close()
        return dict(self._last_status)

    def lock_status(self) -> dict[str, Any]:
        with self._mutex:
            lock = self._lock
        return lock.status() if lock is not None else dict(self._last_status)

    def idents(self) -> set[int]:
        lock = self._lock
        return {lock.ident} if lock is not None and lock.ident else set()

    def close(self) -> None:
        self._cancel.set()
        self.release_lock()
