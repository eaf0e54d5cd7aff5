"""Devices: the Device/property model, the Camera/Stage/Signal protocols (sim devices in ``.sim``).

Write your own device by subclassing :class:`Device` and declaring typed properties::

    from labkit.devices import Device, prop

    class Shutter(Device):
        kind = "shutter"
        open_ = prop(bool, default=False, description="light path open")
        delay_ms = prop(float, units="ms", low=0, high=500, default=5)

        def _apply(self, name, value):      # talk to the hardware; raise to refuse
            ...

    shutter = Shutter("shutter")
    shutter.delay_ms = 900   # PropertyLimitError: delay_ms=900 is above the limit 500 ms of
                             # Shutter 'shutter'; choose a value in [0, 500] ms
"""

import importlib
import logging
from typing import Any

from labkit.devices._action import (
    ActionArgumentError,
    ActionSpec,
    Progress,
    UnknownActionError,
    action,
    arg,
)
from labkit.devices._device import Device, Listener
from labkit.devices._factory import DeviceFactory
from labkit.devices._kinds import Shutter, StateDevice
from labkit.devices._property import (
    PropertyError,
    PropertyLimitError,
    PropertyReadOnlyError,
    PropertySpec,
    PropertyValueError,
    UnknownPropertyError,
    prop,
)
from labkit.devices._protocols import Camera, Signal, Stage

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    # model
    "Device",
    "Listener",
    "PropertySpec",
    "prop",
    # actions
    "action",
    "arg",
    "ActionSpec",
    "Progress",
    # errors
    "PropertyError",
    "PropertyLimitError",
    "PropertyReadOnlyError",
    "PropertyValueError",
    "UnknownPropertyError",
    "ActionArgumentError",
    "UnknownActionError",
    # building devices
    "DeviceFactory",
    "micromanager",
    # kinds and protocols
    "StateDevice",
    "Shutter",
    "Camera",
    "Signal",
    "Stage",
]


def __getattr__(name: str) -> Any:
    # ``labkit.devices.micromanager`` is a package that is also callable (see its __init__); it is
    # imported on first use so that ``import labkit.devices`` never pulls in pymmcore-plus
    if name == "micromanager":
        return importlib.import_module("labkit.devices.micromanager")
    raise AttributeError(f"module 'labkit.devices' has no attribute {name!r}")
