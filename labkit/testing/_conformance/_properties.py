"""Property checks: every value a spec allows is taken and read back, every other one is refused
with the named error and changes nothing, and listeners hear of each change.

The engine gets and sets properties by name from RPC threads, validates nothing itself (the device
does) and tells every client of a change through the device's listeners.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from labkit.devices import (
    PropertyError,
    PropertyLimitError,
    PropertyReadOnlyError,
    PropertySpec,
    PropertyValueError,
    UnknownPropertyError,
)
from labkit.testing._conformance._base import FIXES, Problem, jsonable, need

__all__ = [
    "check_bad_values_refused",
    "check_limits_enforced",
    "check_listeners",
    "check_readonly_refused",
    "check_round_trip",
    "check_unknown_property",
    "settable",
]

_MAX_CHOICES = 16  # enum properties with more choices get a sample of them set


def settable(dev: Any) -> dict[str, PropertySpec]:
    return {n: s for n, s in dev.property_specs().items() if not s.readonly}


def _trial_values(spec: PropertySpec, current: Any) -> list[Any]:
    """Valid values worth setting: every choice (or a sample), both limits, both bools."""
    if spec.kind == "enum":
        choices = list(spec.allowed or ())
        if len(choices) > _MAX_CHOICES:
            step = len(choices) // _MAX_CHOICES + 1
            choices = choices[::step] + [choices[-1]]
        return choices
    if spec.kind == "bool":
        return [not current, current]
    if spec.kind in ("float", "int"):
        return [v for v in (spec.low, spec.high) if v is not None]
    return []  # str and tuple: the current value only


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b)
    return jsonable(a) == jsonable(b)


def check_round_trip(kit: Any, dev: Any) -> None:
    """Every settable property takes its current value, each choice and both limits (or refuses one
    with a PropertyError and keeps its value), reads back what set() returned, and is restored."""
    fix = FIXES["property_round_trip"]
    for name, spec in settable(dev).items():
        original = dev.get(name)
        trials = [original] + ([] if name in kit.keep else _trial_values(spec, original))
        try:
            for value in trials:
                before = dev.get(name)
                try:
                    stored = dev.set(name, value)
                except PropertyError as exc:
                    need(
                        not _same(value, original),
                        f"set({name!r}, {original!r}) (its current value) was refused: {exc}",
                        fix,
                    )
                    need(
                        _same(dev.get(name), before),
                        f"a refused set({name!r}, {value!r}) changed it to {dev.get(name)!r}",
                        "refuse a value before storing it (raise from _apply)",
                    )
                    kit.note(f"{name}={value!r} refused with the other settings as they were")
                    continue
                got = dev.get(name)
                need(
                    _same(got, stored),
                    f"set({name!r}, {value!r}) returned {stored!r} but get() then gives {got!r}",
                    "return the stored value from set() (Device.set does)",
                )
                try:
                    spec.validate(got)
                except PropertyError as exc:
                    raise Problem(
                        f"after set({name!r}, {value!r}) it reads back {got!r}, which its own "
                        f"spec refuses ({exc})",
                        "store and report values in the property's type, limits and choices",
                    ) from None
        finally:
            dev.set(name, original)


def _refused(
    dev: Any,
    name: str,
    value: Any,
    error: type[PropertyError],
    why: str,
    fix: str,
    *,
    settled: bool = True,
) -> None:
    """``set(name, value)`` raises ``error``; a ``settled`` value (not one the device updates on
    its own) reads the same afterwards."""
    before = dev.get(name)
    try:
        dev.set(name, value)
    except error:
        pass
    except Exception as exc:
        raise Problem(
            f"set({name!r}, {value!r}) ({why}) raised {type(exc).__name__}, not {error.__name__}: "
            f"{exc}",
            fix,
        ) from None
    else:
        dev.set(name, before)
        raise Problem(f"set({name!r}, {value!r}) was accepted although {why}", fix)
    after = dev.get(name)
    need(
        not settled or _same(after, before),
        f"the refused set({name!r}, {value!r}) changed it from {before!r} to {after!r}",
        "check the value before storing it (declare limits with prop(low=, high=))",
    )


def check_limits_enforced(kit: Any, dev: Any) -> None:
    """Numbers outside a property's limits raise PropertyLimitError and change nothing."""
    fix = "declare limits with prop(low=, high=) and let Device.set validate before _apply"
    for name, spec in settable(dev).items():
        if spec.kind not in ("float", "int"):
            continue
        if spec.low is None and spec.high is None:
            kit.note(f"{name} has no limits: the panel cannot show its range")
            continue
        for limit, sign in ((spec.low, -1.0), (spec.high, 1.0)):
            if limit is not None:
                value = limit + sign * max(1.0, abs(limit))  # clearly outside, whatever the scale
                value = value if spec.kind == "float" else int(value)
                low, high = (f"{v:g}" if v is not None else "none" for v in (spec.low, spec.high))
                why = f"it is outside [{low}, {high}] {spec.units}".rstrip()
                _refused(dev, name, value, PropertyLimitError, why, fix)


def check_bad_values_refused(kit: Any, dev: Any) -> None:
    """Wrong types, NaN and values outside the choices raise PropertyValueError, change nothing."""
    fix = "declare the type and choices with prop(type_, allowed=...) and let Device.set check them"
    for name, spec in settable(dev).items():
        if spec.kind in ("float", "int"):
            _refused(dev, name, "fast", PropertyValueError, "it is not a number", fix)
            _refused(dev, name, math.nan, PropertyValueError, "it is NaN", fix)
        elif spec.kind == "enum":
            why = "it is not one of the choices"
            _refused(dev, name, "not-a-choice", PropertyValueError, why, fix)
        elif spec.kind == "bool":
            _refused(dev, name, "yes", PropertyValueError, "it is not a bool", fix)
        elif spec.kind == "tuple":
            _refused(dev, name, 3.5, PropertyValueError, "it is not a tuple", fix)


def check_readonly_refused(kit: Any, dev: Any) -> None:
    """Read-only properties refuse set() with PropertyReadOnlyError and keep their value."""
    fix = "declare computed values with prop(..., readonly=True) and never store them from set()"
    for name, spec in dev.property_specs().items():
        if spec.readonly:
            value, why = dev.get(name), "the property is read-only"
            _refused(dev, name, value, PropertyReadOnlyError, why, fix, settled=False)


def check_unknown_property(kit: Any, dev: Any) -> None:
    """get/set of a name the device does not have raise UnknownPropertyError (listing the names)."""
    fix = "raise UnknownPropertyError for unknown names (Device.get/set do)"
    for call in (partial(dev.get, "no_such_property"), partial(dev.set, "no_such_property", 1)):
        try:
            call()
        except UnknownPropertyError:
            continue
        except Exception as exc:
            raise Problem(
                f"{call.func.__name__}('no_such_property') raised {type(exc).__name__}: {exc}", fix
            ) from None
        raise Problem(f"{call.func.__name__}('no_such_property') did not raise", fix)


def check_listeners(kit: Any, dev: Any) -> None:
    """A set() calls every listener with (device name, property, value); a removed one no longer."""
    names = list(settable(dev))
    if not names:
        kit.note("listeners not checked: no settable property")
        return
    name = names[0]
    kept: list[tuple] = []
    removed: list[tuple] = []
    dev.add_listener(keep := lambda *a: kept.append(a))
    dev.add_listener(gone := lambda *a: removed.append(a))
    dev.remove_listener(gone)
    value = dev.get(name)
    try:
        stored = dev.set(name, value)
        kit.wait(lambda: kept, "listener call")
    finally:
        dev.remove_listener(keep)
    need(
        kept[0][:2] == (dev.name, name) and _same(kept[0][2], stored),
        f"set({name!r}, {value!r}) called the listener with {kept[0]!r}",
        "call listeners as fn(device_name, prop_name, value) (Device.set does)",
    )
    need(
        not removed,
        "a listener removed with remove_listener() was still called",
        "drop removed listeners",
    )
