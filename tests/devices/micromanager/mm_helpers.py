"""Helpers of the Micro-Manager tests (a module of its own: ``conftest`` names clash between test
folders)."""

from __future__ import annotations

from pathlib import Path

from labkit.devices import Device
from labkit.devices.micromanager import from_config


def only(config: Path, name: str, **kwargs) -> Device:
    """A fresh core's device ``name`` alone (the others closed; closing it unloads the core): the
    factory the conformance kit calls for each device it makes."""
    devices = from_config(str(config), **kwargs)
    device = devices.pop(name)
    for other in devices.values():
        other.close()
    return device
