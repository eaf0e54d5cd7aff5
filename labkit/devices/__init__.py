"""Devices: the Device/property model, the Camera/Stage/Signal protocols (sim devices in ``.sim``)."""

import logging

from labkit.devices._device import Device, Listener
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
    # errors
    "PropertyError",
    "PropertyLimitError",
    "PropertyReadOnlyError",
    "PropertyValueError",
    "UnknownPropertyError",
    # protocols
    "Camera",
    "Signal",
    "Stage",
]
