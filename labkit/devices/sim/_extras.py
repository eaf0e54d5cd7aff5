"""Simulated filter wheel, shutter and a magnet with actions, for rigs with more than a camera."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any, ClassVar

from labkit.devices._action import Progress, action, arg
from labkit.devices._device import Device
from labkit.devices._kinds import Shutter, StateDevice
from labkit.devices._property import prop

__all__ = ["SimFilterWheel", "SimMagnet", "SimShutter"]


class SimFilterWheel(StateDevice):
    """A six-position filter wheel that takes ``switch_ms`` per step it turns."""

    default_labels: ClassVar[tuple[str, ...]] = ("DAPI", "GFP", "YFP", "RFP", "Cy5", "empty")
    switch_ms = prop(float, units="ms", low=0, high=1000, default=0.0, description="per step")

    def _move_to(self, position: int) -> None:
        steps = abs(position - int(self._values.get("position", 0)))
        delay_s = steps * float(self._values.get("switch_ms", 0.0)) / 1000.0
        if delay_s:
            time.sleep(delay_s)


class SimShutter(Shutter):
    """A shutter that opens and closes at once (counts how often)."""

    def __init__(self, name: str = "shutter", **values: Any) -> None:
        self.operations = 0
        super().__init__(name, **values)

    def _set_open(self, is_open: bool) -> None:
        self.operations += 1


class SimMagnet(Device):
    """A magnet on a motorised arm (magnetic tweezers): height and rotation, homing as an action."""

    kind: ClassVar[str] = "magnet"

    height_mm = prop(
        float, units="mm", low=0, high=20, default=10.0, description="above the sample"
    )
    rotation_turns = prop(float, units="turns", low=-100, high=100, default=0.0)
    speed_mm_s = prop(float, units="mm/s", low=0.1, high=50, default=5.0)

    def __init__(self, name: str = "magnet", **values: Any) -> None:
        self._stop = threading.Event()
        self.homed = False
        super().__init__(name, **values)

    @action(description="drive up to the home switch and zero the height")
    def home(
        self,
        speed_mm_s: Annotated[float, arg(units="mm/s", low=0.1, high=50)] = 20.0,
        progress: Progress | None = None,
    ) -> float:
        """Drive to the home switch (the top), then call that height zero; returns the time (s)."""
        start = time.monotonic()
        distance = 20.0 - float(self.height_mm)
        steps = 10
        for k in range(1, steps + 1):
            if self._stop.wait(distance / speed_mm_s / steps):
                break
            if progress is not None:
                progress(k / steps, f"{k * 10} %")
        self._store("height_mm", 0.0)
        self.homed = True
        return time.monotonic() - start

    @action(description="move the magnet by a relative height")
    def nudge(self, delta_mm: Annotated[float, arg(units="mm", low=-5, high=5)]) -> float:
        """Move by ``delta_mm`` (within the travel); returns the new height."""
        self.height_mm = float(self.height_mm) + delta_mm
        return float(self.height_mm)

    def close(self) -> None:
        self._stop.set()
        super().close()
