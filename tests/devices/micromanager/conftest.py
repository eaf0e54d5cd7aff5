"""Micro-Manager fixtures: the simulated rig's config file (Python device adapters on UniMMCore)
and its labkit devices, closed after each test (closing the last one unloads the core)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit.devices import Device
from labkit.devices.micromanager import from_config
from labkit.testing import write_micromanager_config


@pytest.fixture(scope="session")
def mm_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated rig (camera 64×80, XY, Z, wheel, shutter, lamp, groups Channel and System)."""
    return write_micromanager_config(tmp_path_factory.mktemp("mm") / "rig.cfg")


@pytest.fixture(scope="session")
def mm_crash_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated rig plus ``Crasher``, whose ``Crash="now"`` kills its process."""
    path = tmp_path_factory.mktemp("mm-crash") / "rig.cfg"
    return write_micromanager_config(path, crashing_device=True)


@pytest.fixture
def mm_devices(mm_config: Path) -> Iterator[dict[str, Device]]:
    """The rig's labkit devices in this process (thread-mode bridges, no engine)."""
    devices = from_config(str(mm_config), limits_um={"x": (-5000, 5000), "z": (-100, 100)})
    try:
        yield devices
    finally:
        for device in devices.values():
            device.close()
