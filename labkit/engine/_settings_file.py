"""The settings file (YAML, schema version 1): how a rig is built and how it is set up.

::

    labkit: 1                      # schema version (required)
    engine: {mode: process, ring_slots: 64, seed: 0, shape: [2048, 2048]}
    devices: {factory: micromanager, kwargs: {config: MMConfig.cfg}}
    properties:                    # device -> property -> value (settable properties)
      Camera: {exposure_ms: 20.0, binning: 2}
    spool: {method: zarr, compression: {codec: blosc-lz4, level: 5, shuffle: true}}
    nodes:                         # name -> how to add it again
      roi: {node: roi_stats, input: Camera, mode: thread, params: {rois: [...]}}

Every section but ``labkit`` is optional. This module reads, checks and writes the file; it knows
nothing of scopes (``_scope_settings`` applies a file to one). Every error names the file and the
key (``properties.Camera.exposure_ms``) and says what is accepted there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.devices import DeviceFactory, PropertyError, PropertySpec
from labkit.errors import LabkitError

__all__ = [
    "FACTORY_ALIASES",
    "SCHEMA_VERSION",
    "RigSettings",
    "SettingsError",
    "check_properties",
    "read_settings",
    "write_settings",
]

SCHEMA_VERSION = 1
SECTIONS = ("labkit", "engine", "devices", "properties", "spool", "nodes", "tracking")
TRACKING_KEYS = ("rois",)
ROI_KEYS = ("name", "y", "x", "h", "w")
ENGINE_KEYS = ("mode", "ring_slots", "seed", "shape")
MODES = ("thread", "process")
NODE_KEYS = ("node", "input", "mode", "params")
#: short names of labkit's own device factories in ``devices.factory``
FACTORY_ALIASES = {
    "sim": "labkit.devices.sim:default_devices",
    "sim-rig": "labkit.devices.sim:rig_devices",
    "micromanager": "labkit.devices.micromanager:from_config",
}


class SettingsError(LabkitError, ValueError):
    """A settings file (or dict) that cannot be used: ``key`` names where (``"engine.mode"``), the
    message what is accepted there."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


@dataclass
class RigSettings:
    """A checked settings file. ``devices`` is None when the file does not say how to build them."""

    source: str = "settings"
    engine: dict[str, Any] = field(default_factory=dict)
    devices: DeviceFactory | None = None
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    spool: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracking: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The file's contents (only the sections that say something, ``labkit`` first)."""
        data: dict[str, Any] = {"labkit": SCHEMA_VERSION}
        if self.engine:
            data["engine"] = dict(self.engine)
        if self.devices is not None:
            data["devices"] = _devices_json(self.devices)
        for section in ("properties", "spool", "nodes", "tracking"):
            if getattr(self, section):
                data[section] = getattr(self, section)
        return _plain(data)


def _plain(value: Any) -> Any:
    """Tuples as lists and numpy scalars as Python ones (what YAML's safe dumper writes)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _devices_json(factory: DeviceFactory) -> dict[str, Any]:
    alias = {path: name for name, path in FACTORY_ALIASES.items()}.get(factory.path, factory.path)
    return (
        {"factory": alias, "kwargs": dict(factory.kwargs)} if factory.kwargs else {"factory": alias}
    )


def _fail(source: str, key: str, message: str) -> SettingsError:
    where = f"{key}: " if key else ""
    return SettingsError(f"{source}: {where}{message}", key)


def _mapping(source: str, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(source, key, f"must be a mapping (key: value lines), not {value!r}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise _fail(source, key, f"keys must be names, not {bad[0]!r}")
    return dict(value)


def _known(source: str, key: str, data: Mapping[str, Any], accepted: tuple[str, ...]) -> None:
    unknown = [k for k in data if k not in accepted]
    if unknown:
        where = f"{key}.{unknown[0]}" if key else unknown[0]
        raise _fail(
            source, where, f"unknown key {unknown[0]!r}; accepted keys: {', '.join(accepted)}"
        )


def parse_settings(data: Any, source: str = "settings") -> RigSettings:
    """Check the structure of a settings dict (what ``yaml.safe_load`` gave).

    Property values are checked against the devices' specs only when applied (the devices say
    what they take).

    Raises:
        SettingsError: naming the key and what is accepted there.
    """
    data = _mapping(source, "", {} if data is None else data)
    _known(source, "", data, SECTIONS)
    version = data.get("labkit")
    if version is None:
        raise _fail(source, "labkit", f"missing; start the file with 'labkit: {SCHEMA_VERSION}'")
    if version != SCHEMA_VERSION:
        raise _fail(
            source, "labkit", f"schema version {version!r} is not one this labkit reads "
            f"(it reads {SCHEMA_VERSION}); upgrade labkit or rewrite the file",
        )  # fmt: skip
    settings = RigSettings(source=source)
    settings.engine = _engine(source, data.get("engine"))
    if data.get("devices") is not None:
        settings.devices = _devices(source, data["devices"])
    settings.properties = _properties(source, data.get("properties"))
    settings.spool = _mapping(source, "spool", data.get("spool") or {})
    if "protocol" in settings.spool:
        raise _fail(source, "spool.protocol", "holds Python functions, which a settings file "
                    "cannot; set it in code (scope.spool.update_settings(protocol=...))")  # fmt: skip
    settings.nodes = _nodes(source, data.get("nodes"))
    settings.tracking = _tracking(source, data.get("tracking"))
    return settings


def _tracking(source: str, value: Any) -> dict[str, Any]:
    """The ``tracking`` section: ``rois``, the bead ROIs (``[{name, y, x, h, w}]``)."""
    tracking = _mapping(source, "tracking", value or {})
    _known(source, "tracking", tracking, TRACKING_KEYS)
    rois = tracking.get("rois", [])
    if not isinstance(rois, list):
        raise _fail(source, "tracking.rois", "give a list of {name, y, x, h, w}")
    for i, roi in enumerate(rois):
        key = f"tracking.rois[{i}]"
        roi = _mapping(source, key, roi)
        _known(source, key, roi, ROI_KEYS)
        missing = [k for k in ROI_KEYS if k not in roi]
        if missing:
            raise _fail(source, key, f"missing {', '.join(missing)}; a ROI is {{name, y, x, h, w}}")
    return tracking


def _engine(source: str, value: Any) -> dict[str, Any]:
    engine = _mapping(source, "engine", value or {})
    _known(source, "engine", engine, ENGINE_KEYS)
    if "mode" in engine and engine["mode"] not in MODES:
        raise _fail(source, "engine.mode", f"{engine['mode']!r}; choose one of {', '.join(MODES)}")
    for key, low in (("ring_slots", 2), ("seed", 0)):
        if key in engine and (type(engine[key]) is not int or engine[key] < low):
            raise _fail(source, f"engine.{key}", f"{engine[key]!r}; give a whole number ≥ {low}")
    if "shape" in engine:
        shape = engine["shape"]
        if not (isinstance(shape, list) and len(shape) == 2
                and all(type(v) is int and v > 0 for v in shape)):  # fmt: skip
            raise _fail(source, "engine.shape", f"{shape!r}; give [height, width] in pixels")
        engine["shape"] = tuple(shape)
    return engine


def _devices(source: str, value: Any) -> DeviceFactory:
    devices = _mapping(source, "devices", value)
    _known(source, "devices", devices, ("factory", "kwargs"))
    factory = devices.get("factory")
    if not isinstance(factory, str) or not factory:
        raise _fail(
            source, "devices.factory", f"{factory!r}; give one of {', '.join(FACTORY_ALIASES)} "
            "or 'package.module:function'",
        )  # fmt: skip
    path = FACTORY_ALIASES.get(factory, factory)
    if ":" not in path:
        raise _fail(source, "devices.factory", f"{factory!r} is not a factory; give one of "
                    f"{', '.join(FACTORY_ALIASES)} or 'package.module:function'")  # fmt: skip
    kwargs = _mapping(source, "devices.kwargs", devices.get("kwargs") or {})
    try:
        return DeviceFactory(path, **kwargs)
    except (TypeError, ValueError) as exc:
        raise _fail(source, "devices.kwargs", str(exc)) from None


def _properties(source: str, value: Any) -> dict[str, dict[str, Any]]:
    found = {}
    for device, values in _mapping(source, "properties", value or {}).items():
        found[device] = _mapping(source, f"properties.{device}", values or {})
    return found


def _nodes(source: str, value: Any) -> dict[str, dict[str, Any]]:
    found = {}
    for name, definition in _mapping(source, "nodes", value or {}).items():
        key = f"nodes.{name}"
        if not name.isidentifier():
            raise _fail(source, key, "a node name must be a Python identifier")
        node = _mapping(source, key, definition)
        _known(source, key, node, NODE_KEYS)
        if not isinstance(node.get("node"), str) or not node["node"]:
            raise _fail(source, f"{key}.node", "give a built-in node name or 'package.module:Name'")
        if node.get("mode", "thread") not in MODES:
            raise _fail(
                source, f"{key}.mode", f"{node['mode']!r}; choose one of {', '.join(MODES)}"
            )
        node["params"] = _mapping(source, f"{key}.params", node.get("params") or {})
        found[name] = node
    return found


def check_properties(
    specs: Mapping[str, Mapping[str, PropertySpec]],
    properties: Mapping[str, Mapping[str, Any]],
    source: str = "settings",
) -> list[tuple[str, str, Any]]:
    """``(device, property, value)`` to set, every value checked against the device's spec.

    Raises:
        SettingsError: an unknown device or property (naming those there are), a read-only
            property, or a value its property refuses (with the property's own message).
    """
    todo = []
    for device, values in properties.items():
        if device not in specs:
            raise _fail(source, f"properties.{device}",
                        f"no device {device!r}; devices: {', '.join(specs)}")  # fmt: skip
        settable = [n for n, s in specs[device].items() if not s.readonly]
        for name, value in values.items():
            key = f"properties.{device}.{name}"
            spec = specs[device].get(name)
            if spec is None:
                raise _fail(source, key, f"{device} has no property {name!r}; its settable "
                            f"properties: {', '.join(settable)}")  # fmt: skip
            if spec.readonly:
                raise _fail(source, key, "is read-only (the device computes it); remove it")
            try:
                checked = spec.validate(value, owner=device)
            except PropertyError as exc:
                raise _fail(source, key, str(exc)) from exc
            todo.append((device, name, checked))
    return todo


def read_settings(path: str | os.PathLike) -> RigSettings:
    """Read and check a settings file.

    Raises:
        FileNotFoundError: no such file.  SettingsError: not YAML, or a bad key or value.
    """
    import yaml

    target = Path(path).expanduser()
    text = target.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{target}: not valid YAML: {exc}") from None
    return parse_settings(data, str(target))


def write_settings(path: str | os.PathLike, settings: RigSettings) -> Path:
    """Write ``settings`` as YAML (a comment line first says what the file is); returns the path."""
    import yaml

    target = Path(path).expanduser()
    body = yaml.safe_dump(settings.to_dict(), sort_keys=False, allow_unicode=True)
    target.write_text(f"# labkit settings, schema {SCHEMA_VERSION} (see docs/settings.md)\n{body}")
    return target
