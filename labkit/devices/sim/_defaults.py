"""default_devices(): the simulated microscope a Scope starts with."""

from __future__ import annotations

from labkit.devices._device import Device
from labkit.devices.sim._camera import SimCamera
from labkit.devices.sim._extras import SimFilterWheel, SimMagnet, SimShutter
from labkit.devices.sim._signal import SimSignal
from labkit.devices.sim._stage import SimStage
from labkit.devices.sim._tweezers import SimTweezersCamera

__all__ = ["default_devices", "rig_devices", "tweezers_devices"]


def default_devices(seed: int = 0, shape: tuple[int, int] = (2048, 2048)) -> dict[str, Device]:
    """``{"camera": SimCamera, "stage": SimStage, "signal": SimSignal}``, camera linked to the stage.

    Args:
        seed: seeds every simulated device (same seed → same data for the same calls).
        shape: (height, width) of the camera sensor in pixels.
    """
    stage = SimStage("stage")
    camera = SimCamera("camera", seed=seed, sensor_shape=shape, stage=stage)
    signal = SimSignal("signal", seed=seed)
    return {"camera": camera, "stage": stage, "signal": signal}


def rig_devices(seed: int = 0, shape: tuple[int, int] = (1024, 1024)) -> dict[str, Device]:
    """A fuller simulated rig: two cameras (``camera``, ``camera2``) on one stage, a signal, a
    filter wheel, a shutter and a magnet with actions (the second camera has half the pixels)."""
    devices = default_devices(seed=seed, shape=shape)
    stage = devices["stage"]
    assert isinstance(stage, SimStage)
    second = (max(16, shape[0] // 2), max(16, shape[1] // 2))
    devices["camera2"] = SimCamera("camera2", seed=seed + 1, sensor_shape=second, stage=stage)
    devices["filters"] = SimFilterWheel("filters")
    devices["shutter"] = SimShutter("shutter")
    devices["magnet"] = SimMagnet("magnet")
    return devices


def tweezers_devices(seed: int = 0, shape: tuple[int, int] = (2048, 2048)) -> dict[str, Device]:
    """A simulated magnetic-tweezers rig: ``camera`` (a :class:`SimTweezersCamera` whose bead rings
    encode z), ``stage`` and ``signal``; pass ``Scope(devices="labkit.devices.sim:tweezers_devices")``."""
    stage = SimStage("stage")
    camera = SimTweezersCamera("camera", seed=seed, sensor_shape=shape, stage=stage)
    return {"camera": camera, "stage": stage, "signal": SimSignal("signal", seed=seed)}
