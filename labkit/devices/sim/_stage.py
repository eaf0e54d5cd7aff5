"""SimStage: an XYZ stage that moves at a finite speed (position computed from the clock)."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from labkit.devices._device import Device
from labkit.devices._property import prop

__all__ = ["SimStage"]

_AXES = ("x_um", "y_um", "z_um")


class SimStage(Device):
    """Simulated XYZ stage.

    Setting ``x_um``/``y_um``/``z_um`` sets a target; each axis then travels towards it at
    ``speed_um_s`` from where it actually is. :meth:`position` interpolates the actual position
    from ``time.monotonic()`` (no thread). Properties read back the targets.

    Args:
        name: device name (default ``"stage"``).
        **values: initial property values (e.g. ``z_um=5``; the stage starts there, not moving).
    """

    kind: ClassVar[str] = "stage"

    x_um = prop(float, units="µm", low=-25_000, high=25_000, default=0.0, description="X target")
    y_um = prop(float, units="µm", low=-25_000, high=25_000, default=0.0, description="Y target")
    z_um = prop(float, units="µm", low=-500, high=500, default=0.0, description="Z (focus) target")
    speed_um_s = prop(
        float,
        units="µm/s",
        low=1,
        high=100_000,
        default=1000.0,
        description="travel speed per axis",
    )

    def __init__(self, name: str = "stage", **values: Any) -> None:
        now = time.monotonic()
        # per axis: (start position µm, start time s); targets live in self._values
        self._start: dict[str, tuple[float, float]] = {a: (0.0, now) for a in _AXES}
        self._initialising = True
        super().__init__(name, **values)
        self._initialising = False

    def _axis_position(self, axis: str, now: float) -> float:
        start, t0 = self._start[axis]
        target = self._values[axis]
        travel = self._values["speed_um_s"] * max(0.0, now - t0)
        if abs(target - start) <= travel:
            return target
        return start + travel if target > start else start - travel

    def _apply(self, name: str, value: Any) -> None:
        now = time.monotonic()
        if name in _AXES:
            position = value if self._initialising else self._axis_position(name, now)
            self._start[name] = (position, now)
        elif name == "speed_um_s":  # re-anchor every axis where it is now
            for axis in _AXES:
                self._start[axis] = (self._axis_position(axis, now), now)

    # ------------------------------------------------------------------ motion API
    def position(self) -> tuple[float, float, float]:
        """Actual ``(x, y, z)`` in µm right now (between start and target while moving)."""
        now = time.monotonic()
        with self._lock:
            x, y, z = (self._axis_position(a, now) for a in _AXES)
        return (x, y, z)

    def move(self, x: float | None = None, y: float | None = None, z: float | None = None) -> None:
        """Set the targets given (µm); validates all of them before changing any.

        Raises:
            PropertyLimitError, PropertyValueError: a target is invalid (nothing moves).
        """
        wanted = {a: v for a, v in zip(_AXES, (x, y, z), strict=True) if v is not None}
        for axis, value in wanted.items():
            self._spec(axis).validate(value, owner=self.qualified_name)
        for axis, value in wanted.items():
            self.set(axis, value)

    def remaining_s(self) -> float:
        """Seconds until every axis reaches its target (0 when idle)."""
        now = time.monotonic()
        with self._lock:
            speed = self._values["speed_um_s"]
            return max(abs(self._values[a] - self._axis_position(a, now)) / speed for a in _AXES)

    def is_moving(self) -> bool:
        """True while any axis is still travelling."""
        return self.remaining_s() > 0.0

    def wait(self, timeout_s: float | None = None) -> None:
        """Block until the stage has arrived.

        Raises:
            TimeoutError: still moving after ``timeout_s`` seconds (the move continues).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while (remaining := self.remaining_s()) > 0.0:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{self.qualified_name} still moving after {timeout_s} s ({remaining:.3g} s to go); "
                        "wait longer or raise speed_um_s"
                    )
                remaining = min(remaining, left)
            time.sleep(min(remaining, 0.05) + 1e-4)
