"""Micro-Manager device properties as labkit properties, and :class:`MMBridge`, the part every
Micro-Manager device shares.

A Micro-Manager property has a type (string, float, integer; Python devices also boolean), maybe
limits or a list of allowed values, and may be read-only or pre-init (set before the device is
initialised, in the config file: read-only here). Each becomes a labkit :class:`PropertySpec` of the
same name, so a panel shows its range and choices and a bad value is refused with labkit's own
error before it reaches the hardware. Values are read from the core every time (the hardware is the
truth), converted from Micro-Manager's strings to the property's type.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from labkit.devices._property import PropertySpec, PropertyValueError
from labkit.devices.micromanager._core import CoreHandle, CoreUser

log = logging.getLogger(__name__)

__all__ = ["MMBridge", "mm_spec", "to_python"]

# pymmcore's PropertyType values (pymmcore_plus.PropertyType): Undef, String, Float, Integer, and
# the Boolean / Enum kinds only Python (UniMMCore) devices have
_KINDS = {0: "str", 1: "str", 2: "float", 3: "int", 4: "bool", 5: "str"}
_TRUE = {"1", "true", "on", "yes"}
_FALSE = {"0", "false", "off", "no"}

#: exceptions Micro-Manager raises for a value it refuses (C++: RuntimeError; Python devices:
#: ValueError, KeyError, TypeError)
MM_ERRORS = (RuntimeError, ValueError, KeyError, TypeError)


def _parse(kind: str, raw: Any) -> Any:
    """``raw`` (a string from a C++ device, or a typed value from a Python one) as ``kind``.

    Raises:
        ValueError: it is not one.
    """
    if kind == "str":
        return str(raw)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"{raw!r} is not a boolean")
    number = float(raw)
    if kind == "int":
        if not number.is_integer():
            raise ValueError(f"{raw!r} is not a whole number")
        return int(number)
    return number


def _choices(kind: str, allowed: tuple[str, ...]) -> tuple[str, tuple]:
    """(item kind, choices) of an allowed-values list: numbers when every choice reads as one and
    prints back the same, else the strings Micro-Manager gave (``"2x2"`` stays a string)."""
    if kind in ("int", "float"):
        try:
            parsed = tuple(_parse(kind, a) for a in allowed)
        except ValueError:
            return "str", allowed
        if all(
            str(p) == a or (kind == "float" and math.isclose(p, float(a)))
            for p, a in zip(parsed, allowed, strict=True)
        ):
            return kind, parsed
    return "str", allowed


def mm_spec(core: Any, label: str, prop: str, name: str | None = None) -> PropertySpec:
    """The labkit spec of Micro-Manager property ``label``::``prop`` (named ``name``, default
    ``prop``): type, limits, choices, read-only (pre-init properties too)."""
    kind = _KINDS.get(int(core.getPropertyType(label, prop)), "str")
    readonly = bool(core.isPropertyReadOnly(label, prop))
    pre_init = bool(core.isPropertyPreInit(label, prop))
    description = f"Micro-Manager {label}::{prop}"
    if pre_init:
        description += " (pre-init: set in the config file before the device starts)"
    fields: dict[str, Any] = {"kind": kind}
    allowed = tuple(str(a) for a in core.getAllowedPropertyValues(label, prop))
    if allowed and kind != "bool":
        item_kind, choices = _choices(kind, allowed)
        fields = {"kind": "enum", "item_kind": item_kind, "allowed": choices}
    elif kind in ("int", "float") and core.hasPropertyLimits(label, prop):
        low = float(core.getPropertyLowerLimit(label, prop))
        high = float(core.getPropertyUpperLimit(label, prop))
        if low < high:  # Micro-Manager reports (0, 0) for "no limits" on some devices
            fields.update(low=low, high=high)
    return PropertySpec(
        name=name or prop, readonly=readonly or pre_init, description=description, **fields
    )


def to_python(spec: PropertySpec, raw: Any) -> Any:
    """A value read from Micro-Manager in the spec's type (as it is when it does not parse)."""
    kind = spec.item_kind if spec.kind == "enum" else spec.kind
    try:
        value = _parse(kind or "str", raw)
    except (TypeError, ValueError):
        return raw
    if spec.kind == "enum" and spec.allowed and value not in spec.allowed:
        return str(raw) if str(raw) in spec.allowed else value
    return value


class MMBridge(CoreUser):
    """Mixin of every Micro-Manager device: its Micro-Manager label, the shared core, one labkit
    property per Micro-Manager property, and changes Micro-Manager reports relayed to listeners.

    Subclasses call :meth:`_bind` after ``Device.__init__``; properties they map to labkit's own
    names (a camera's ``Exposure`` is ``exposure_ms``) are passed as ``skip``.
    """

    # provided by labkit.devices.Device
    name: str
    qualified_name: str
    _listeners: list
    _add_property: Any
    _spec: Any
    property_specs: Any

    def _bind(self, handle: CoreHandle, mm_label: str, skip: tuple[str, ...] = ()) -> None:
        self._handle = handle
        self.mm_label = mm_label
        self._mm_props: dict[str, str] = {}  # labkit name -> Micro-Manager property
        core = handle.core
        taken = set(self.property_specs())
        for prop in (str(p) for p in core.getDevicePropertyNames(mm_label)):  # Keyword -> str
            if prop in skip:
                continue
            if prop in taken:
                log.warning("%s: Micro-Manager property %r hides a labkit one; it is left out",
                            self.qualified_name, prop)  # fmt: skip
                continue
            spec = mm_spec(core, mm_label, prop)
            self._add_property(spec, self._reader(prop, spec))
            self._mm_props[prop] = prop
        handle.follow(mm_label, self._mm_changed)

    def _reader(self, prop: str, spec: PropertySpec) -> Any:
        label, core = self.mm_label, self._handle.core
        return lambda: to_python(spec, core.getProperty(label, prop))

    def _set_mm(self, name: str, value: Any) -> None:
        """Send a validated value to Micro-Manager; its refusal becomes a PropertyValueError."""
        prop = self._mm_props[name]
        self._expect(name, value)
        try:
            self._handle.core.setProperty(self.mm_label, prop, value)
        except MM_ERRORS as exc:
            raise PropertyValueError(
                f"{name}={value!r} of {self.qualified_name} was refused by Micro-Manager: {exc}; "
                "choose another value (the device's own limits may depend on its other settings)",
                device=self.qualified_name,
                prop_name=name,
                value=value,
            ) from None

    # -- what Micro-Manager changed on its own -------------------------------------------------

    def _labkit_name(self, mm_property: str) -> str | None:
        """The labkit property Micro-Manager's ``mm_property`` shows as (None: not shown)."""
        return mm_property if mm_property in self._mm_props else None

    def _mm_changed(self, mm_property: str, raw: Any) -> None:
        name = self._labkit_name(mm_property)
        if name is None:
            return
        spec = self._spec(name)
        value = to_python(spec, raw)
        if self.__dict__.get("_announced", {}).get(name, _UNSET) != value:
            self._notify_external(name, value)

    def _expect(self, name: str, value: Any) -> None:
        """A change labkit is making: Micro-Manager's echo of it is not relayed (``set`` tells the
        listeners itself)."""
        self.__dict__.setdefault("_announced", {})[name] = value

    def _notify(self, name: str, value: Any) -> None:
        self.__dict__.setdefault("_announced", {})[name] = value
        super()._notify(name, value)  # type: ignore[misc]

    def _notify_external(self, name: str, value: Any) -> None:
        """Tell listeners of a change Micro-Manager made, on whatever thread reported it, without
        the device lock (the reporting thread may hold Micro-Manager's own locks)."""
        self.__dict__.setdefault("_announced", {})[name] = value
        for fn in list(self._listeners):
            try:
                fn(self.name, name, value)
            except Exception:
                log.exception("listener %r of %s failed for %s=%r", fn, self.qualified_name,
                              name, value)  # fmt: skip


_UNSET = object()
