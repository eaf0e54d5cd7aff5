""":class:`MMStage`: the core's XY stage and focus drive as one labkit stage.

labkit's stage has three axes; Micro-Manager has an XY stage and a focus (Z) stage, the ones the
core uses for its own moves (``setXYPosition``, ``setPosition``). Their own properties (speed,
step size, ...) stay on the devices named by their Micro-Manager labels. Micro-Manager has no
standard travel limits or speed, so limits come from the ``limits_um`` the rig is built with, and
``speed_um_s`` is only what labkit assumes (set the stage's own speed property to change it).
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from labkit.devices._action import action
from labkit.devices._device import Device
from labkit.devices._property import PropertyValueError, prop
from labkit.devices.micromanager._core import CoreHandle, CoreUser
from labkit.devices.micromanager._properties import MM_ERRORS

__all__ = ["MMStage"]

AXES = ("x_um", "y_um", "z_um")


class MMStage(CoreUser, Device):
    """Micro-Manager's XY stage ``xy_label`` and focus stage ``focus_label`` (either may be None:
    its axes then stay at 0).

    Args:
        name: labkit name (``"stage"``).
        handle: the rig's shared core.
        xy_label: Micro-Manager label of the XY stage.
        focus_label: Micro-Manager label of the focus drive.
        limits_um: ``{"x": (low, high), "y": ..., "z": ...}``: the travel labkit allows (moves
            outside are refused before they reach the hardware).
    """

    kind: ClassVar[str] = "stage"

    x_um = prop(float, units="µm", default=0.0, description="X target (Micro-Manager XY stage)")
    y_um = prop(float, units="µm", default=0.0, description="Y target (Micro-Manager XY stage)")
    z_um = prop(float, units="µm", default=0.0, description="Z target (Micro-Manager focus)")
    speed_um_s = prop(
        float, units="µm/s", low=0.001, default=1000.0,
        description="speed labkit assumes; Micro-Manager stages set theirs in their own properties",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        handle: CoreHandle,
        xy_label: str | None,
        focus_label: str | None,
        limits_um: dict[str, Any] | None = None,
    ) -> None:
        handle.acquire()
        self._handle = handle
        self._commanding = False
        self.xy_label, self.focus_label = xy_label or None, focus_label or None
        try:
            super().__init__(name)
            for axis, (low, high) in _limits(limits_um).items():
                self._set_spec(f"{axis}_um", low=low, high=high)
            for axis, present in (("x", self.xy_label), ("y", self.xy_label),
                                  ("z", self.focus_label)):  # fmt: skip
                if not present:
                    self._set_spec(f"{axis}_um", low=0.0, high=0.0,
                                   description="this Micro-Manager rig has no stage for this axis")  # fmt: skip
            x, y, z = self.position()
            self._values.update(x_um=x, y_um=y, z_um=z)
            if self.xy_label:
                handle.follow(self.xy_label, self._mm_moved)
            if self.focus_label:
                handle.follow(self.focus_label, self._mm_moved)
        except BaseException:
            handle.release()
            raise

    # -- moves ---------------------------------------------------------------------------------

    def _apply(self, name: str, value: Any) -> None:
        if name == "x_um":
            self._move_xy(value, self._values["y_um"])
        elif name == "y_um":
            self._move_xy(self._values["x_um"], value)
        elif name == "z_um":
            self._move_z(value)

    def _move_xy(self, x: float, y: float) -> None:
        if self.xy_label:
            self._command(lambda: self.core.setXYPosition(self.xy_label, x, y), "x_um", (x, y))

    def _move_z(self, z: float) -> None:
        if self.focus_label:
            self._command(lambda: self.core.setPosition(self.focus_label, z), "z_um", z)

    def _command(self, call: Any, name: str, value: Any) -> None:
        self._commanding = True  # the adapter's own position event is this move: not relayed
        try:
            call()
        except MM_ERRORS as exc:
            raise PropertyValueError(
                f"Micro-Manager refused to move {self.qualified_name} to {value}: {exc}; "
                "choose a target within the stage's travel",
                device=self.qualified_name, prop_name=name, value=value,
            ) from None  # fmt: skip
        finally:
            self._commanding = False

    def move(self, x: float | None = None, y: float | None = None, z: float | None = None) -> None:
        """Set the targets given (µm): one XY move for x and y; every target is checked first.

        Raises:
            PropertyLimitError, PropertyValueError: a target is invalid (nothing moves).
        """
        wanted = {a: v for a, v in zip(AXES, (x, y, z), strict=True) if v is not None}
        checked = {
            a: self._spec(a).validate(v, owner=self.qualified_name) for a, v in wanted.items()
        }
        with self._lock:
            if "x_um" in checked or "y_um" in checked:
                tx = checked.get("x_um", self._values["x_um"])
                ty = checked.get("y_um", self._values["y_um"])
                self._move_xy(tx, ty)
                self._values.update(x_um=tx, y_um=ty)
            if "z_um" in checked:
                self._move_z(checked["z_um"])
                self._values["z_um"] = checked["z_um"]
        for axis, value in checked.items():
            self._notify(axis, value)

    def targets(self) -> tuple[float, float, float]:
        """The (x, y, z) targets in µm (where the stage was last sent), without asking the
        hardware."""
        v = self._values
        return (float(v["x_um"]), float(v["y_um"]), float(v["z_um"]))

    def position(self) -> tuple[float, float, float]:
        """Where the stage is now (µm), as Micro-Manager reads it."""
        core = self.core
        x = y = z = 0.0
        if self.xy_label:
            x, y = (float(v) for v in core.getXYPosition(self.xy_label))
        if self.focus_label:
            z = float(core.getPosition(self.focus_label))
        return (x, y, z)

    def is_moving(self) -> bool:
        """True while the XY stage or the focus drive reports itself busy."""
        core = self.core
        return any(bool(core.deviceBusy(label)) for label in (self.xy_label, self.focus_label)
                   if label)  # fmt: skip

    def wait(self, timeout_s: float | None = None) -> None:
        """Block until neither drive is busy.

        Raises:
            TimeoutError: still moving after ``timeout_s`` seconds (the move goes on).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self.is_moving():
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.qualified_name} still moving after {timeout_s} s; wait longer, or "
                    "check the stage in Micro-Manager"
                )
            time.sleep(0.002)

    @action(description="stop the XY stage and the focus drive now")
    def stop(self) -> list[float]:
        """Halt both drives where they are; returns the position (µm)."""
        for label in (self.xy_label, self.focus_label):
            if label:
                self.core.stop(label)
        x, y, z = self.position()
        with self._lock:
            self._values.update(x_um=x, y_um=y, z_um=z)
        return [x, y, z]

    # -- what Micro-Manager moved on its own ---------------------------------------------------

    def _mm_moved(self, mm_property: str, value: Any) -> None:
        """A position event of Micro-Manager (an MDA, a joystick): follow it in the targets."""
        if mm_property not in ("XYPosition", "Position") or self._commanding:
            return
        if mm_property == "XYPosition":
            changed = dict(zip(("x_um", "y_um"), (float(v) for v in value), strict=True))
        else:
            changed = {"z_um": float(value)}
        for axis, target in changed.items():
            if not math.isclose(self._values[axis], target, abs_tol=1e-6):
                self._values[axis] = (
                    target  # no lock: the reporting thread may hold Micro-Manager's
                )
                for fn in list(self._listeners):
                    try:
                        fn(self.name, axis, target)
                    except Exception:  # noqa: S110 - a broken listener must not break the relay
                        pass

    def close(self) -> None:
        with self._lock:
            self._release()
        super().close()


def _limits(limits_um: dict[str, Any] | None) -> dict[str, tuple[float, float]]:
    """``{"x": (low, high), ...}`` checked: known axes, two numbers, low ≤ high."""
    found: dict[str, tuple[float, float]] = {}
    for axis, pair in (limits_um or {}).items():
        if axis not in ("x", "y", "z"):
            raise ValueError(f"limits_um has axis {axis!r}; use 'x', 'y' and 'z'")
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"limits_um[{axis!r}] = {pair!r}; give (low, high) in µm") from None
        if not low <= high:
            raise ValueError(f"limits_um[{axis!r}] = {pair!r}: low is above high")
        found[axis] = (low, high)
    return found
