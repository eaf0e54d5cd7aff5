"""Simulated devices: a bead-sample camera (fluorescent spots, or tweezers ring patterns), a finite-speed stage and a sampled signal.

Shipped (not test-only) so notebooks can run without hardware; the engine uses
:func:`default_devices` when no devices are given.
"""

from labkit.devices.sim._camera import SimCamera
from labkit.devices.sim._defaults import default_devices, rig_devices, tweezers_devices
from labkit.devices.sim._extras import SimFilterWheel, SimMagnet, SimShutter
from labkit.devices.sim._signal import SimSignal
from labkit.devices.sim._stage import SimStage
from labkit.devices.sim._tweezers import SimTweezersCamera

__all__ = [
    # devices
    "SimCamera",
    "SimSignal",
    "SimStage",
    "SimFilterWheel",
    "SimShutter",
    "SimMagnet",
    "SimTweezersCamera",
    # sets
    "default_devices",
    "rig_devices",
    "tweezers_devices",
]
