"""default_devices(): the simulated microscope a Scope starts with."""

from __future__ import annotations

from labkit.devices._device import Device
from labkit.devices.sim._camera import SimCamera
from labkit.devices.sim._signal import SimSignal
from labkit.devices.sim._stage import SimStage

__all__ = ["default_devices"]


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
