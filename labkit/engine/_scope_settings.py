"""``scope.settings``: save a scope's settings to YAML and load them back (docs/settings.md).

What is saved: how the engine and the devices were made (when that can be written down: a factory
path, not device objects), every settable device property, the spool settings, the nodes added
by name or path and the bead ROIs (``scope.tracking.rois``). Stage positions are not saved: a saved z would move the objective on load, and
where the sample sits is not how the rig is set up.

Loading checks the whole file against the scope first (every device, property and value), so a
file with one bad value changes nothing; then it applies the spool settings, the properties (in
file order: devices in the order they were made, e.g. configuration presets before the properties
they set), the nodes and the bead ROIs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.devices import DeviceFactory
from labkit.engine._devices import factory_path
from labkit.engine._settings_file import (
    RigSettings,
    SettingsError,
    check_properties,
    parse_settings,
    read_settings,
    write_settings,
)

if TYPE_CHECKING:  # pragma: no cover
    from labkit.engine._engine import Engine
    from labkit.engine._scope import Scope

log = logging.getLogger(__name__)

__all__ = ["ScopeSettings", "add_nodes", "set_bead_rois", "set_device_properties"]

# per device kind: values not saved (where the sample sits is not how the rig is set up; a state
# device's label says what its position says, in words that survive a reordered wheel)
_NOT_SAVED = {"stage": ("x_um", "y_um", "z_um"), "state": ("position",)}
_SPOOL_PATTERNS = ("dir_pattern", "series_pattern")  # spool settings kept on the controller


class ScopeSettings:
    """The settings of one scope: ``save(path)``, ``load(path)``, ``to_dict()``, ``apply(dict)``."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    # -- saving --------------------------------------------------------------------------------

    def current(self) -> RigSettings:
        """The scope's settings now (one RPC for the device values)."""
        scope = self._scope
        settings = RigSettings(source=f"settings of {scope._label}")
        if scope.mode != "remote":
            settings.engine = {"mode": scope.mode, "ring_slots": scope._ring_slots,
                               "seed": scope._seed, "shape": list(scope._shape)}  # fmt: skip
            settings.devices = _factory_of(scope._devices_spec)
        settings.properties = self._properties()
        settings.spool = self._spool()
        settings.nodes = self._nodes()
        rois = self._scope.tracking.rois
        settings.tracking = {"rois": rois} if rois else {}
        return settings

    def to_dict(self) -> dict[str, Any]:
        """What :meth:`save` writes, as a dict."""
        return self.current().to_dict()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the scope's settings to ``path`` as YAML; returns the path."""
        return write_settings(path, self.current())

    def _properties(self) -> dict[str, dict[str, Any]]:
        values = self._scope._call("device_settings")
        found: dict[str, dict[str, Any]] = {}
        for name, proxy in self._scope.devices.items():
            skip = _NOT_SAVED.get(proxy.kind, ())
            kept = {
                prop: values[name][prop]
                for prop, spec in proxy.property_specs().items()
                if not spec.readonly and prop not in skip and prop in values.get(name, {})
                and not (proxy.kind == "config_groups" and values[name][prop] == "")
            }  # fmt: skip
            if kept:
                found[name] = kept
        return found

    def _spool(self) -> dict[str, Any]:
        spool = self._scope.spool
        settings = spool.get_settings()
        protocol = settings.pop("protocol", None)
        if protocol is not None and any((protocol.tasks, protocol.at_start, protocol.at_end)):
            log.warning("the spool protocol holds Python functions and is not saved")
        return {**settings, **{k: getattr(spool, k) for k in _SPOOL_PATTERNS}}

    def _nodes(self) -> dict[str, dict[str, Any]]:
        found = {}
        for name, node in self._scope.nodes.describe().items():
            definition = node.get("definition")
            if definition is None:
                log.warning("node %s was added as a Python object and is not saved; add it by "
                            "name or 'package.module:Name' to save it", name)  # fmt: skip
            else:
                found[name] = definition
        return found

    # -- loading -------------------------------------------------------------------------------

    def load(self, path: str | os.PathLike) -> None:
        """Apply the settings file at ``path`` (see :meth:`apply`).

        Raises:
            FileNotFoundError: no such file.  SettingsError: see :meth:`apply`.
        """
        self.apply(read_settings(path))

    def apply(self, settings: RigSettings | Mapping[str, Any]) -> None:
        """Apply settings (a :class:`RigSettings` or the dict a file holds): spool settings, device
        properties, nodes (a node of the same name is replaced; others stay), then the bead ROIs
        (when the file has them: they replace the scope's). The ``engine``
        and ``devices`` sections say how to build a scope (``Scope(config=...)``); an existing
        scope keeps its engine and devices.

        Raises:
            SettingsError: a key or value the scope does not take; it names the key and what is
                accepted there (nothing was changed when the file itself is at fault).
        """
        if not isinstance(settings, RigSettings):
            settings = parse_settings(settings)
        scope, source = self._scope, settings.source
        specs = {name: proxy.property_specs() for name, proxy in scope.devices.items()}
        todo = check_properties(specs, settings.properties, source)
        self._apply_spool(settings)
        for device, name, value in todo:
            try:
                scope._call("set_property", device=device, name=name, value=value)
            except Exception as exc:
                raise SettingsError(f"{source}: properties.{device}.{name}: {exc}",
                                    f"properties.{device}.{name}") from exc  # fmt: skip
        existing = scope.nodes.describe()
        for name, node in settings.nodes.items():
            try:
                if name in existing:
                    scope.nodes.remove(name)
                scope.nodes.add(node["node"], input=node.get("input"), name=name,
                                mode=node.get("mode", "thread"), **node["params"])  # fmt: skip
            except Exception as exc:
                raise SettingsError(f"{source}: nodes.{name}: {exc}", f"nodes.{name}") from exc
        if "rois" in settings.tracking:
            try:
                scope.tracking.rois = settings.tracking["rois"]
            except Exception as exc:
                raise SettingsError(f"{source}: tracking.rois: {exc}", "tracking.rois") from exc

    def _apply_spool(self, settings: RigSettings) -> None:
        if not settings.spool:
            return
        values = dict(settings.spool)
        patterns = {k: values.pop(k) for k in _SPOOL_PATTERNS if k in values}
        bad = [k for k, v in patterns.items() if not isinstance(v, str) or not v]
        if bad:
            raise SettingsError(f"{settings.source}: spool.{bad[0]}: give a path pattern",
                                f"spool.{bad[0]}")  # fmt: skip
        spool = self._scope.spool
        try:
            spool.update_settings(values)
        except Exception as exc:  # SpoolError names the key and the accepted values
            raise SettingsError(f"{settings.source}: spool: {exc}", "spool") from exc
        for key, value in patterns.items():
            setattr(spool, key, value)


def _factory_of(spec: Any) -> DeviceFactory | None:
    """How the scope's devices were made, as a factory a file can hold (None: device objects)."""
    if isinstance(spec, DeviceFactory):
        return spec
    try:
        path = factory_path(spec)
    except ValueError:
        log.warning("the devices were given as objects: the settings have no devices section")
        return None
    return DeviceFactory(path or "labkit.devices.sim:default_devices")


# -- a served engine (labkit engine --config) --------------------------------------------------


def set_device_properties(devices: Mapping[str, Any], settings: RigSettings) -> None:
    """Set the file's properties on devices an engine is about to serve (all checked first).

    Raises:
        SettingsError: naming the key, as :meth:`ScopeSettings.apply`.
    """
    specs = {name: dev.property_specs() for name, dev in devices.items()}
    for device, name, value in check_properties(specs, settings.properties, settings.source):
        try:
            devices[device].set(name, value)
        except Exception as exc:
            raise SettingsError(f"{settings.source}: properties.{device}.{name}: {exc}",
                                f"properties.{device}.{name}") from exc  # fmt: skip


def add_nodes(engine: Engine, settings: RigSettings) -> None:
    """Add the file's nodes to an open engine.

    Raises:
        SettingsError: a node the engine refused (naming it).
    """
    for name, node in settings.nodes.items():
        try:
            engine.nodes.add(node["node"], name, node.get("input") or "",
                             node.get("mode", "thread"), node["params"])  # fmt: skip
        except Exception as exc:
            raise SettingsError(f"{settings.source}: nodes.{name}: {exc}", f"nodes.{name}") from exc


def set_bead_rois(engine: Engine, settings: RigSettings) -> None:
    """Set the file's bead ROIs on an open engine (when it has them).

    Raises:
        SettingsError: ROIs the engine refused (naming ``tracking.rois``).
    """
    if "rois" not in settings.tracking:
        return
    try:
        engine.tracking.set_rois(settings.tracking["rois"])
    except Exception as exc:
        raise SettingsError(f"{settings.source}: tracking.rois: {exc}", "tracking.rois") from exc
