"""A simulated Micro-Manager rig: Python device adapters for pymmcore-plus's ``UniMMCore`` and the
config file that loads them, for testing notebooks and labkit without Micro-Manager's C++ device
adapters (which a lab installs with ``mmcore install``; they cannot be downloaded everywhere).

Every call goes through the real ``CMMCorePlus`` API and the real sequence buffer; only the
hardware behind the adapters is simulated::

    from labkit.testing import write_micromanager_config

    config = write_micromanager_config(tmp_path / "rig.cfg")
    scope = lk.Scope(devices=lk.devices.micromanager(config), mode="process")

The devices: a camera ``Camera`` that exposes for its exposure time (frames follow each other at
1/exposure while streaming; pixel [0, 0] counts frames), an XY stage ``XY`` and a focus drive ``Z``
that travel at their ``Speed``, a filter wheel ``Wheel``, a shutter ``Shutter``, a lamp ``Lamp``
with properties of every Micro-Manager kind, a second camera ``Camera2``, and the configuration
group ``Channel`` (presets DAPI, GFP).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from pymmcore_plus import Keyword
from pymmcore_plus.experimental.unicore import (
    GenericDevice,
    ShutterDevice,
    SimpleCameraDevice,
    StageDevice,
    StateDevice,
    XYStageDevice,
)

__all__ = [
    "SimMMCamera",
    "SimMMCrashingDevice",
    "SimMMFocus",
    "SimMMLamp",
    "SimMMShutter",
    "SimMMWheel",
    "SimMMXYStage",
    "write_micromanager_config",
]

WHEEL_LABELS = ("DAPI", "GFP", "RFP", "Cy5")


class SimMMCamera(SimpleCameraDevice):
    """A grey camera: ``SensorWidth``/``SensorHeight`` (pre-init), ``Binning`` 1/2/4, ``PixelType``
    8bit/16bit, ``Exposure`` 0.1–2000 ms. Each frame takes its exposure; pixel [0, 0] counts frames
    (modulo the pixel type's range) so a test can see order and gaps."""

    def __init__(self) -> None:
        super().__init__()
        self._exposure_ms = 10.0
        self._binning = 1
        self._pixel_type = "16bit"
        self._sensor = [80, 64]  # width, height
        self._frames = 0
        self._busy_until = 0.0
        self.set_property_limits(Keyword.Exposure, (0.1, 2000.0))
        self.set_property_allowed_values(Keyword.Binning, (1, 2, 4))
        self.register_property(
            "PixelType", default_value="16bit", allowed_values=("8bit", "16bit"),
            getter=SimMMCamera._get_pixel_type, setter=SimMMCamera._set_pixel_type,
        )  # fmt: skip
        for axis, (get, put) in {
            "SensorWidth": (SimMMCamera._get_width, SimMMCamera._set_width),
            "SensorHeight": (SimMMCamera._get_height, SimMMCamera._set_height),
        }.items():
            self.register_property(axis, default_value=get(self), is_pre_init=True,
                                   property_type=int, getter=get, setter=put)  # fmt: skip

    def _get_pixel_type(self) -> str:
        return self._pixel_type

    def _set_pixel_type(self, value: str) -> None:
        self._pixel_type = str(value)

    def _get_width(self) -> int:
        return self._sensor[0]

    def _set_width(self, value: Any) -> None:
        self._sensor[0] = int(value)

    def _get_height(self) -> int:
        return self._sensor[1]

    def _set_height(self, value: Any) -> None:
        self._sensor[1] = int(value)

    def get_exposure(self) -> float:
        return self._exposure_ms

    def set_exposure(self, exposure: float) -> None:
        self._exposure_ms = float(exposure)

    def get_binning(self) -> int:
        return self._binning

    def set_binning(self, value: int) -> None:
        self._binning = int(value)
        self.clear_roi()  # the roi counted pixels of the old binning

    def sensor_shape(self) -> tuple[int, int]:
        width, height = self._sensor
        return (height // self._binning, width // self._binning)

    def dtype(self) -> Any:
        return np.uint8 if self._pixel_type == "8bit" else np.uint16

    def snap(self, buffer: np.ndarray) -> dict[str, Any]:
        """Expose (frames back to back while streaming), then read out a ramp with the count."""
        now = time.monotonic()
        start = max(now, self._busy_until)
        self._busy_until = start + self._exposure_ms / 1000.0
        time.sleep(self._busy_until - now)  # the exposure: the simulated hardware's own time
        rows, cols = buffer.shape[:2]
        top = np.iinfo(buffer.dtype).max
        buffer[...] = (np.arange(cols, dtype=np.int64) % 50 + 100).astype(buffer.dtype)
        buffer[0, 0] = self._frames % (top + 1)
        self._frames += 1
        return {"SimulatedFrame": str(self._frames - 1)}


class _Axis:
    """One simulated drive: travels towards its target at ``speed`` µm/s (no thread)."""

    def __init__(self) -> None:
        self.start, self.target, self.t0 = 0.0, 0.0, time.monotonic()
        self.lock = threading.Lock()

    def where(self, speed: float) -> float:
        with self.lock:
            travel = speed * (time.monotonic() - self.t0)
            if travel >= abs(self.target - self.start):
                return self.target
            return self.start + travel if self.target > self.start else self.start - travel

    def go(self, target: float, speed: float) -> None:
        here = self.where(speed)
        with self.lock:
            self.start, self.target, self.t0 = here, float(target), time.monotonic()


def _get_speed(device: Any) -> float:
    return float(device._speed)


def _set_speed(device: Any, value: Any) -> None:
    device._speed = float(value)


def _speed_property(device: Any, top: float) -> None:
    """``Speed`` (µm/s) of a simulated drive, 1 to ``top``."""
    device.register_property("Speed", default_value=device._speed, limits=(1.0, top),
                             property_type=float, getter=_get_speed, setter=_set_speed)  # fmt: skip


class SimMMXYStage(XYStageDevice):
    """An XY stage travelling at ``Speed`` µm/s; busy until it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self._axes = (_Axis(), _Axis())
        self._speed = 5000.0
        _speed_property(self, 100_000.0)

    def set_position_um(self, x: float, y: float) -> None:
        for axis, target in zip(self._axes, (x, y), strict=True):
            axis.go(target, self._speed)
        self.core.events.XYStagePositionChanged.emit(self.get_label(), x, y)  # as adapters do

    def get_position_um(self) -> tuple[float, float]:
        x, y = (axis.where(self._speed) for axis in self._axes)
        return (x, y)

    def busy(self) -> bool:
        return any(axis.where(self._speed) != axis.target for axis in self._axes)

    def stop(self) -> None:
        for axis in self._axes:
            axis.go(axis.where(self._speed), self._speed)

    def home(self) -> None:
        self.set_position_um(0.0, 0.0)

    def set_origin_x(self) -> None:
        pass

    def set_origin_y(self) -> None:
        pass


class SimMMFocus(StageDevice):
    """A focus drive travelling at ``Speed`` µm/s; busy until it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self._axis = _Axis()
        self._speed = 1000.0
        _speed_property(self, 10_000.0)

    def set_position_um(self, val: float) -> None:
        self._axis.go(val, self._speed)
        self.core.events.stagePositionChanged.emit(self.get_label(), val)  # as adapters do

    def get_position_um(self) -> float:
        return self._axis.where(self._speed)

    def busy(self) -> bool:
        return self._axis.where(self._speed) != self._axis.target

    def stop(self) -> None:
        self._axis.go(self._axis.where(self._speed), self._speed)

    def home(self) -> None:
        self.set_position_um(0.0)

    def set_origin(self) -> None:
        pass


class SimMMWheel(StateDevice):
    """A four-position filter wheel (DAPI, GFP, RFP, Cy5)."""

    def __init__(self) -> None:
        super().__init__(dict(enumerate(WHEEL_LABELS)))
        self._state = 0

    def get_state(self) -> int:
        return self._state

    def set_state(self, position: int) -> None:
        self._state = int(position)


class SimMMShutter(ShutterDevice):
    """A shutter that opens and closes at once."""

    def __init__(self) -> None:
        super().__init__()
        self._open = False

    def get_open(self) -> bool:
        return self._open

    def set_open(self, open: bool) -> None:
        self._open = bool(open)


def _value_getter(name: str) -> Any:
    def get(device: Any) -> Any:
        return device._values[name]

    return get


def _value_setter(name: str) -> Any:
    def put(device: Any, value: Any) -> None:
        device._values[name] = value
        # what a C++ adapter's OnPropertyChanged does: every client of the core hears of it
        device.core.events.propertyChanged.emit(device.get_label(), name, value)

    return put


class SimMMLamp(GenericDevice):
    """A lamp with a property of every Micro-Manager kind: ``Power`` (float, 0–100 mW), ``Level``
    (integer, 0–10), ``Mode`` (choices low/high), ``Enabled`` (boolean), ``Temperature``
    (read-only), ``Port`` (pre-init)."""

    def __init__(self) -> None:
        super().__init__()
        self._values: dict[str, Any] = {"Power": 5.0, "Level": 3, "Mode": "low", "Enabled": False}
        kinds: dict[str, dict[str, Any]] = {
            "Power": {"limits": (0.0, 100.0), "property_type": float},
            "Level": {"limits": (0, 10), "property_type": int},
            "Mode": {"allowed_values": ("low", "high"), "property_type": str},
            "Enabled": {"property_type": bool},
            "Port": {"is_pre_init": True, "property_type": str},
        }
        self._values["Port"] = "COM1"
        for name, kwargs in kinds.items():
            self.register_property(name, default_value=self._values[name],
                                   getter=_value_getter(name), setter=_value_setter(name),
                                   **kwargs)  # fmt: skip
        self.register_property("Temperature", default_value=21.5, is_read_only=True,
                               property_type=float, getter=_value_getter("Temperature"))  # fmt: skip
        self._values["Temperature"] = 21.5


class SimMMCrashingDevice(GenericDevice):
    """A vendor adapter that takes its process down (SIGKILL) when ``Crash`` is set to "now":
    what a segfault in a C++ adapter does to the engine process. Only in configs that ask for it."""

    def __init__(self) -> None:
        super().__init__()
        self.register_property(
            "Crash", default_value="no", allowed_values=("no", "now"), property_type=str,
            getter=SimMMCrashingDevice._calm, setter=SimMMCrashingDevice._crash,
        )  # fmt: skip

    def _calm(self) -> str:
        return "no"

    def _crash(self, value: str) -> None:
        if value == "now":
            os.kill(os.getpid(), signal.SIGKILL)


def write_micromanager_config(
    path: str | os.PathLike,
    *,
    sensor: tuple[int, int] = (64, 80),
    crashing_device: bool = False,
) -> Path:
    """Write the simulated rig's Micro-Manager config file to ``path``; returns the path.

    Args:
        sensor: (height, width) of the camera sensor in pixels.
        crashing_device: add ``Crasher``, whose ``Crash="now"`` kills the engine process.
    """
    module = __name__
    devices = [
        ("Camera", "SimMMCamera"), ("Camera2", "SimMMCamera"), ("XY", "SimMMXYStage"),
        ("Z", "SimMMFocus"), ("Wheel", "SimMMWheel"), ("Shutter", "SimMMShutter"),
        ("Lamp", "SimMMLamp"),
    ] + ([("Crasher", "SimMMCrashingDevice")] if crashing_device else [])  # fmt: skip
    height, width = (int(v) for v in sensor)
    lines = ["# labkit's simulated Micro-Manager rig (Python device adapters for UniMMCore)"]
    lines += [f"#py pyDevice,{label},{module},{cls}" for label, cls in devices]
    lines += [
        f"#py Property,Camera,SensorWidth,{width}",
        f"#py Property,Camera,SensorHeight,{height}",
        "Property,Core,Initialize,1",
        "#py Property,Core,Camera,Camera",
        "#py Property,Core,XYStage,XY",
        "#py Property,Core,Focus,Z",
        "#py Property,Core,Shutter,Shutter",
        "#py ConfigGroup,Channel,DAPI,Wheel,Label,DAPI",
        "#py ConfigGroup,Channel,DAPI,Lamp,Mode,low",
        "#py ConfigGroup,Channel,GFP,Wheel,Label,GFP",
        "#py ConfigGroup,Channel,GFP,Lamp,Mode,high",
        "#py ConfigGroup,System,Startup,Wheel,Label,DAPI",
        "#py ConfigGroup,System,Startup,Lamp,Mode,low",
    ]
    target = Path(path)
    target.write_text("\n".join(lines) + "\n")
    return target
