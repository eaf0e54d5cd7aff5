"""Typed, validated device properties: :class:`PropertySpec`, the :func:`prop` descriptor, errors.

A property is declared once on a :class:`~labkit.devices.Device` subclass::

    class MyCamera(Device):
        exposure_ms = prop(float, units="ms", low=0.01, high=2000, default=10,
                           description="integration time per frame")
        binning = prop(int, allowed=(1, 2, 4), default=1)
        roi = prop(tuple[int, int, int, int], units="px", low=0)

        @prop(tuple[int, int], readonly=True, units="px")
        def shape(self):          # read-only, computed
            ...

Setting a property validates it (type, limits, allowed choices) and raises a
:class:`PropertyError` subclass whose message names the device, the property, the value, the
limit and the units, and says what to do. An invalid value never changes the stored value.
"""

from __future__ import annotations

import math
import numbers
import typing
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from labkit.errors import LabkitError

__all__ = [
    "PropertyError",
    "PropertyLimitError",
    "PropertyReadOnlyError",
    "PropertySpec",
    "PropertyValueError",
    "UnknownPropertyError",
    "prop",
]

KINDS = ("float", "int", "bool", "str", "enum", "tuple")
_TYPE_KINDS: dict[type, str] = {float: "float", int: "int", bool: "bool", str: "str"}


class PropertyError(LabkitError, ValueError):
    """Base class of every property error (a ``ValueError``).

    Attributes ``device``, ``prop_name`` and ``value`` say what was refused (``None`` when an
    error was rebuilt from a message only, e.g. after crossing a process boundary).
    """

    def __init__(
        self,
        message: str,
        *,
        device: str | None = None,
        prop_name: str | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.device = device
        self.prop_name = prop_name
        self.value = value


class PropertyLimitError(PropertyError):
    """A numeric value is outside the property's ``[low, high]`` limits."""


class PropertyValueError(PropertyError):
    """A value has the wrong type, is not finite, or is not one of the allowed choices."""


class PropertyReadOnlyError(PropertyError):
    """The property is read-only (computed by the device)."""


class UnknownPropertyError(PropertyError):
    """The device has no property of that name."""


def _fmt(x: Any) -> str:
    """Short human form of a number (``0.01``, ``2000``, ``1e+05``)."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, numbers.Real):
        f = float(x)
        return str(int(f)) if f.is_integer() and abs(f) < 1e6 else f"{f:g}"
    return repr(x)


def _to_jsonable(value: Any) -> Any:
    """Tuples → lists, numpy scalars → Python scalars (recursively)."""
    if isinstance(value, (tuple, list)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.dtype):
        return str(value)
    return value


@dataclass(frozen=True)
class PropertySpec:
    """Description of one device property (immutable; JSON form via :meth:`to_json`).

    ``kind`` is one of ``"float" "int" "bool" "str" "enum" "tuple"``. For ``"enum"``,
    ``allowed`` holds the choices and ``item_kind`` their type; for ``"tuple"``, ``item_kind``
    is the element type, ``length`` the required length (``None``: any) and ``low``/``high``
    apply to every element.
    """

    name: str
    kind: str
    units: str = ""
    low: float | None = None
    high: float | None = None
    allowed: tuple | None = None
    readonly: bool = False
    description: str = ""
    default: Any = None
    item_kind: str | None = None
    length: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"property {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}"
            )
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"property {self.name!r}: low {self.low} is above high {self.high}")

    # ------------------------------------------------------------------ validation
    def validate(self, value: Any, owner: str = "") -> Any:
        """Return ``value`` coerced to this property's type, or raise.

        ``owner`` (e.g. ``"SimCamera 'camera'"``) is named in error messages. Ints and floats
        are converted into each other only when lossless (``2.0`` → ``2`` for an int).

        Raises:
            PropertyValueError: wrong type, NaN/inf, wrong tuple length, or not an allowed choice.
            PropertyLimitError: a number (or tuple element) outside ``[low, high]``.
        """
        if self.kind == "enum":
            return self._validate_choice(value, owner)
        if self.kind == "tuple":
            return self._validate_tuple(value, owner)
        coerced = self._coerce(self.kind, value, owner)
        if self.kind in ("float", "int"):
            self._check_limits(coerced, owner, shown=coerced)
        return coerced

    def _where(self, owner: str) -> str:
        return f" of {owner}" if owner else ""

    def _units(self) -> str:
        return f" {self.units}" if self.units else ""

    def _range(self) -> str:
        low = "-inf" if self.low is None else _fmt(self.low)
        high = "inf" if self.high is None else _fmt(self.high)
        return f"[{low}, {high}]{self._units()}"

    def _error(
        self, cls: type[PropertyError], message: str, owner: str, value: Any
    ) -> PropertyError:
        return cls(message, device=owner or None, prop_name=self.name, value=value)

    def _coerce(self, kind: str, value: Any, owner: str, shown: Any = None) -> Any:
        shown = value if shown is None else shown
        bad = self._error(
            PropertyValueError,
            f"{self.name}={shown!r}{self._where(owner)} must be {_KIND_WORDS[kind]}, "
            f"not {type(value).__name__}; pass e.g. {self.name}={_example(self, kind)!r}",
            owner,
            shown,
        )
        if kind == "bool":
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            raise bad
        if kind == "str":
            if isinstance(value, str):
                return value
            raise bad
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise bad
        as_float = float(value)
        if not math.isfinite(as_float):
            raise self._error(
                PropertyValueError,
                f"{self.name}={shown!r}{self._where(owner)} is not a finite number; "
                f"choose a value in {self._range()}",
                owner,
                shown,
            )
        if kind == "float":
            return as_float
        if isinstance(value, numbers.Integral):
            return int(value)
        if as_float.is_integer():
            return int(as_float)
        raise self._error(
            PropertyValueError,
            f"{self.name}={shown!r}{self._where(owner)} must be a whole number; "
            f"pass e.g. {self.name}={round(as_float)}",
            owner,
            shown,
        )

    def _check_limits(self, number: float, owner: str, shown: Any) -> None:
        word = None
        if self.low is not None and number < self.low:
            word, limit = "below", self.low
        elif self.high is not None and number > self.high:
            word, limit = "above", self.high
        if word is not None:
            raise self._error(
                PropertyLimitError,
                f"{self.name}={_fmt(shown) if not isinstance(shown, tuple) else shown} is {word} "
                f"the limit {_fmt(limit)}{self._units()}{self._where(owner)}; "
                f"choose a value in {self._range()}",
                owner,
                shown,
            )

    def _validate_choice(self, value: Any, owner: str) -> Any:
        allowed = self.allowed or ()
        try:
            coerced = self._coerce(self.item_kind or "str", value, owner)
        except PropertyError:
            coerced = value
        for choice in allowed:
            if type(choice) is type(coerced) and choice == coerced:
                return choice
        raise self._error(
            PropertyValueError,
            f"{self.name}={value!r}{self._where(owner)} is not an allowed choice; "
            f"choose one of {', '.join(repr(a) for a in allowed)}{self._units()}",
            owner,
            value,
        )

    def _validate_tuple(self, value: Any, owner: str) -> tuple:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (tuple, list)):
            raise self._error(
                PropertyValueError,
                f"{self.name}={value!r}{self._where(owner)} must be a tuple"
                f"{f' of {self.length} values' if self.length else ''}; "
                f"pass e.g. {self.name}={_example(self, 'tuple')!r}",
                owner,
                value,
            )
        shown = tuple(value)
        if self.length is not None and len(shown) != self.length:
            raise self._error(
                PropertyValueError,
                f"{self.name}={shown!r}{self._where(owner)} has {len(shown)} values, needs "
                f"{self.length}; pass e.g. {self.name}={_example(self, 'tuple')!r}",
                owner,
                shown,
            )
        if self.item_kind is None:
            return shown
        items = tuple(self._coerce(self.item_kind, v, owner, shown=shown) for v in shown)
        if self.item_kind in ("float", "int"):
            for item in items:
                self._check_limits(item, owner, shown=shown)
        return items

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        """JSON-able dict of every field (tuples become lists, numpy scalars Python scalars)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "units": self.units,
            "low": self.low,
            "high": self.high,
            "allowed": None if self.allowed is None else _to_jsonable(self.allowed),
            "readonly": self.readonly,
            "description": self.description,
            "default": _to_jsonable(self.default),
            "item_kind": self.item_kind,
            "length": self.length,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PropertySpec:
        """Rebuild a spec from :meth:`to_json` output (lists back to tuples; unknown keys ignored)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("allowed", "default"):
            if isinstance(fields.get(key), list):
                fields[key] = tuple(tuple(a) if isinstance(a, list) else a for a in fields[key])
        return cls(**fields)

    def replace(self, **changes: Any) -> PropertySpec:
        """A copy with some fields changed (e.g. per-instance limits)."""
        return replace(self, **changes)


_KIND_WORDS = {
    "float": "a number",
    "int": "a whole number",
    "bool": "True or False",
    "str": "a string",
    "enum": "one of the allowed choices",
    "tuple": "a tuple",
}


def _example(spec: PropertySpec, kind: str) -> Any:
    """A valid-looking example value for error messages."""
    if spec.default is not None and kind == spec.kind:
        return spec.default
    if kind == "tuple":
        item = _example(spec, spec.item_kind or "int")
        return tuple([item] * (spec.length or 2))
    if kind in ("float", "int"):
        base = spec.low if spec.low is not None else (spec.high if spec.high is not None else 1)
        return int(base) if kind == "int" else float(base)
    return {"bool": True, "str": "text"}.get(kind, spec.default)


def _kind_of(type_: Any) -> tuple[str, str | None, int | None]:
    """(kind, item_kind, length) for a Python type such as ``float`` or ``tuple[int, int]``."""
    if type_ in _TYPE_KINDS:
        return _TYPE_KINDS[type_], None, None
    if type_ is tuple:
        return "tuple", None, None
    if typing.get_origin(type_) is tuple:
        args = typing.get_args(type_)
        if len(args) == 2 and args[1] is Ellipsis:
            return "tuple", _TYPE_KINDS.get(args[0]), None
        kinds = {_TYPE_KINDS.get(a) for a in args}
        if len(kinds) != 1 or None in kinds:
            raise TypeError(f"tuple properties need one element type, got {type_!r}")
        return "tuple", kinds.pop(), len(args)
    raise TypeError(f"unsupported property type {type_!r}; use float, int, bool, str or tuple[...]")


class prop:  # noqa: N801 - used like a builtin (property)
    """Declare a typed, validated property on a :class:`~labkit.devices.Device` subclass.

    Args:
        type_: ``float``, ``int``, ``bool``, ``str``, ``tuple`` or ``tuple[int, int, ...]``.
        units: unit string shown in panels and error messages (``"ms"``, ``"µm"``).
        low: inclusive lower numeric limit (for tuples: every element).
        high: inclusive upper numeric limit (for tuples: every element).
        allowed: the only accepted values (makes the kind ``"enum"``).
        readonly: users cannot set it; give a getter by decorating a method, or the device
            updates it with ``Device._store``.
        description: one line for panels and docs.
        default: initial value (validated when the device is created).

    Reading ``device.x`` returns ``device.get("x")``; assigning calls ``device.set("x", v)``.
    """

    def __init__(
        self,
        type_: Any,
        *,
        units: str = "",
        low: float | None = None,
        high: float | None = None,
        allowed: tuple | list | None = None,
        readonly: bool = False,
        description: str = "",
        default: Any = None,
    ) -> None:
        kind, item_kind, length = _kind_of(type_)
        if allowed is not None:
            item_kind, kind = kind, "enum"
            allowed = tuple(allowed)
        self._fields = dict(
            kind=kind,
            units=units,
            low=None if low is None else float(low),
            high=None if high is None else float(high),
            allowed=allowed,
            readonly=readonly,
            description=description,
            default=default,
            item_kind=item_kind,
            length=length,
        )
        self.fget: Callable[[Any], Any] | None = None
        self.spec: PropertySpec | None = None
        self.name = ""

    def __call__(self, fget: Callable[[Any], Any]) -> prop:
        """Use as a decorator to give a read-only property its getter."""
        self.fget = fget
        if not self._fields["description"] and fget.__doc__:
            self._fields["description"] = fget.__doc__.strip().splitlines()[0]
        return self

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.spec = PropertySpec(name=name, **self._fields)
        if self.fget is not None and not self.spec.readonly:
            raise TypeError(
                f"{owner.__name__}.{name}: a property with a getter must be readonly=True"
            )
        if self.spec.default is not None and not self.spec.readonly:
            self.spec.validate(self.spec.default, owner=owner.__name__)

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.get(self.name)

    def __set__(self, instance: Any, value: Any) -> None:
        instance.set(self.name, value)
