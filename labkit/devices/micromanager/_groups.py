""":class:`MMConfigGroups`: Micro-Manager's configuration groups as one labkit device.

A group ("Channel", "Objective") has presets ("DAPI", "GFP"), each a set of device property
values. Here each group is a property whose choices are its presets: setting it applies the preset
(``setConfig``) and waits for the devices; reading it gives the preset the devices match now, or
``""`` when they match none (a property was changed by hand).
"""

from __future__ import annotations

from typing import Any, ClassVar

from labkit.devices._device import Device
from labkit.devices._property import PropertySpec, PropertyValueError
from labkit.devices.micromanager._core import CoreHandle, CoreUser
from labkit.devices.micromanager._properties import MM_ERRORS

__all__ = ["MMConfigGroups"]

_PREFIX = "group:"  # how the core handle names a group's change


def _current_preset(core: Any, group: str) -> Any:
    def read() -> str:
        return str(core.getCurrentConfig(group))

    return read


class MMConfigGroups(CoreUser, Device):
    """Every configuration group of the core, one enum property each."""

    kind: ClassVar[str] = "config_groups"

    def __init__(self, name: str, handle: CoreHandle) -> None:
        handle.acquire()
        self._handle = handle
        self._told: dict[str, str] = {}  # what listeners last heard of each group
        try:
            super().__init__(name)
            core = handle.core
            self.groups = tuple(str(g) for g in core.getAvailableConfigGroups())
            for group in self.groups:
                presets = tuple(str(p) for p in core.getAvailableConfigs(group))
                spec = PropertySpec(
                    name=group, kind="enum", item_kind="str", allowed=("", *presets),
                    description=f"Micro-Manager configuration group {group!r} (its preset; '' when "
                    "the devices match none)",
                )  # fmt: skip
                self._add_property(spec, _current_preset(core, group))
            handle.follow("Core", self._group_set)
        except BaseException:
            handle.release()
            raise

    def _apply(self, name: str, value: Any) -> None:
        core = self._handle.core
        if value == "":
            if core.getCurrentConfig(name) != "":
                raise PropertyValueError(
                    f"{name}='' of {self.qualified_name} is what a group reads when no preset "
                    f"matches; choose one of its presets: "
                    f"{', '.join(repr(p) for p in core.getAvailableConfigs(name))}",
                    device=self.qualified_name, prop_name=name, value=value,
                )  # fmt: skip
            return
        try:
            core.setConfig(name, value)
            core.waitForConfig(name, value)
        except MM_ERRORS as exc:
            raise RuntimeError(
                f"Micro-Manager could not apply preset {value!r} of group {name!r}: {exc}; "
                "check the devices it sets"
            ) from None
        self._told[name] = value  # Device.set tells the listeners; the relay need not
        self._handle.announce_preset(name, value)

    def _group_set(self, mm_property: str, preset: Any) -> None:
        if not mm_property.startswith(_PREFIX):
            return
        group, preset = mm_property[len(_PREFIX) :], str(preset)
        if group not in self.groups or self._told.get(group) == preset:
            return
        self._told[group] = preset
        for fn in list(self._listeners):  # no lock: Micro-Manager's thread may be reporting
            try:
                fn(self.name, group, preset)
            except Exception:  # noqa: S110 - a broken listener must not break the relay
                pass

    def _notify(self, name: str, value: Any) -> None:
        self._told[name] = value
        super()._notify(name, value)

    def close(self) -> None:
        with self._lock:
            self._release()
        super().close()
