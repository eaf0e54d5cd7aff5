"""Devices for protocol tests: the sim rig plus a config-groups device (Micro-Manager's model:
one enum property per group, its values the presets), importable by a process-mode engine."""

from __future__ import annotations

from typing import Any, ClassVar

from labkit.devices import Device, prop
from labkit.devices.sim import rig_devices


class ConfigGroups(Device):
    """Config groups as the Micro-Manager devices expose them: ``Channel`` with its presets."""

    kind: ClassVar[str] = "config_groups"
    Channel = prop(str, allowed=("DAPI", "FITC", "TRITC"), default="DAPI", description="presets")

    def __init__(self, name: str = "config", **values: Any) -> None:
        self.applied: list[str] = []
        super().__init__(name, **values)

    def _apply(self, name: str, value: Any) -> None:
        self.applied.append(f"{name}={value}")


SHAPE = (48, 64)


def make_scope(mode: str, factory: str = "protocol_devices:devices") -> Any:
    """A scope on these devices with the ``double`` user command (tests import it from here:
    ``conftest`` is a module name every test directory has)."""
    from labkit.engine import Scope

    return Scope(
        devices=factory, mode=mode, shape=SHAPE, ring_slots=16, commands=["protocol_devices:double"]
    )


def devices(seed: int = 0, shape: tuple[int, int] = (48, 64)) -> dict[str, Any]:
    found = rig_devices(seed=seed, shape=shape)
    found["config"] = ConfigGroups("config")
    return found


def slow_stage_devices(seed: int = 0, shape: tuple[int, int] = (48, 64)) -> dict[str, Any]:
    """The rig with a stage that takes seconds per z step (to cancel in the middle of one)."""
    found = devices(seed=seed, shape=shape)
    found["stage"].speed_um_s = 5.0
    return found


def autofocus(devices: dict[str, Any], event: Any) -> float:
    """Finds focus 0.5 µm above where the event wanted it (importable for process mode)."""
    return float(event.z_pos or 0.0) + 0.5


def double(value: float) -> float:
    """A user command scripts call (``call`` step)."""
    return 2 * value
