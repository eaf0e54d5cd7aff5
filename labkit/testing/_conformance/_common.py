"""Checks every device kind must pass: construction, describe(), actions and close.

Each check is ``check(kit, dev)`` and raises :class:`Problem` (what is wrong, what to fix); the kit
names the check and turns it into a ``ConformanceError``. They hold a driver to what the engine does
with every device: describe it to every client as JSON, call its actions with checked arguments from
RPC threads, and close it when the engine closes. Property checks live in ``_properties``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from labkit.devices import (
    ActionArgumentError,
    ActionSpec,
    PropertyLimitError,
    PropertySpec,
    UnknownActionError,
)
from labkit.testing._conformance import _properties as props
from labkit.testing._conformance._base import FIXES, Problem, jsonable, need, strict_json

__all__ = ["check_close_idempotent", "check_construct", "check_threads_released", "UNIT_CHECKS"]

_DESCRIBE_KEYS = ("name", "kind", "type", "properties", "actions", "values")
_MEMBERS = ("property_specs", "get", "set", "describe", "close", "add_listener", "remove_listener")


# -- construction and description ---------------------------------------------------------------


def check_construct(kit: Any, dev: Any, kind: str | None) -> None:
    """The object has what the engine calls on every device, a name and the expected kind."""
    missing = [m for m in _MEMBERS if not callable(getattr(dev, m, None))]
    need(
        not missing,
        f"it lacks {', '.join(missing)}",
        "subclass labkit.devices.Device (it provides properties, listeners, describe and close)",
    )
    name = getattr(dev, "name", None)
    need(
        isinstance(name, str) and name,
        f"its name is {name!r}",
        "give every device a non-empty str name (Device.__init__(name) sets it)",
    )
    found = getattr(dev, "kind", None)
    need(isinstance(found, str), f"its kind is {found!r}", 'set the class attribute kind = "..."')
    if kind is not None:
        need(
            found == kind,
            f'its kind is {found!r}; the engine treats it as a {kind} only if kind == "{kind}"',
            f'set the class attribute kind = "{kind}" (or subclass the labkit kind that sets it)',
        )


def check_describe(kit: Any, dev: Any) -> None:
    """describe() is strict JSON and lists every property and action the device has."""
    desc = dev.describe()
    fix = FIXES["describe_json"]
    need(isinstance(desc, dict), f"describe() returned {type(desc).__name__}", fix)
    strict_json(desc, "describe()", fix)
    missing = [k for k in _DESCRIBE_KEYS if k not in desc]
    need(not missing, f"describe() lacks {missing}", "keep Device.describe()'s keys: " + fix)
    need(
        desc["name"] == dev.name and desc["kind"] == dev.kind,
        f"describe() names it {desc['name']!r} of kind {desc['kind']!r}",
        "report the device's own name and kind",
    )
    specs = dev.property_specs()
    need(
        list(desc["properties"]) == list(specs) and list(desc["values"]) == list(specs),
        f"describe() lists properties {list(desc['properties'])} and values "
        f"{list(desc['values'])}, property_specs() has {list(specs)}",
        "describe every property with its value (Device.describe() does)",
    )
    actions = dev.action_specs() if hasattr(dev, "action_specs") else {}
    need(
        list(desc["actions"]) == list(actions),
        f"describe() lists actions {list(desc['actions'])}, action_specs() has {list(actions)}",
        "let Device.describe() list the actions marked with @action",
    )


def check_specs(kit: Any, dev: Any) -> None:
    """Each spec survives the trip to a client (to_json → JSON → from_json) unchanged."""
    for name, spec in dev.property_specs().items():
        need(
            isinstance(spec, PropertySpec) and spec.name == name,
            f"property_specs()[{name!r}] is {spec!r}",
            "declare properties with labkit.devices.prop",
        )
        back = PropertySpec.from_json(json.loads(json.dumps(spec.to_json())))
        need(
            back == spec,
            f"the spec of {name!r} comes back from JSON as {back!r}, not {spec!r}",
            "use plain numbers, strings and tuples in limits, choices and defaults",
        )


def check_values(kit: Any, dev: Any) -> None:
    """Every property can be read, and describe()'s values are those reads (read-only ones, which
    may drift between two reads like a sensor temperature, only of the same type)."""
    values = dev.describe()["values"]
    for name, spec in dev.property_specs().items():
        value = jsonable(dev.get(name))
        same = type(values[name]) is type(value) if spec.readonly else values[name] == value
        need(
            same,
            f"describe()['values'][{name!r}] is {values[name]!r} but get({name!r}) is {value!r}",
            "build describe()['values'] from get() (Device.values() does)",
        )


# -- actions ------------------------------------------------------------------------------------


def _bad_call(
    dev: Any, action: str, args: dict, errors: tuple[type[Exception], ...], why: str
) -> None:
    fix = FIXES["actions"]
    try:
        dev.call_action(action, args)
    except errors:
        return
    except Exception as exc:
        raise Problem(
            f"call_action({action!r}, {args!r}) ({why}) raised {type(exc).__name__}: {exc}, "
            f"not {' or '.join(e.__name__ for e in errors)}",
            fix,
        ) from None
    raise Problem(f"call_action({action!r}, {args!r}) ran although {why}", fix)


def check_actions(kit: Any, dev: Any) -> None:
    """Actions are listed with JSON specs; unknown actions, unknown or missing arguments and values
    out of range are refused before anything runs; ``run_actions`` really run, with sane progress."""
    if not hasattr(dev, "call_action"):
        kit.note("no actions (no call_action)")
        return
    specs: dict[str, ActionSpec] = dev.action_specs()
    _bad_call(dev, "no_such_action", {}, (UnknownActionError,), "there is no such action")
    for name, spec in specs.items():
        back = ActionSpec.from_json(json.loads(json.dumps(spec.to_json())))
        need(
            back.to_json() == spec.to_json(),
            f"the spec of action {name!r} comes back from JSON as {back.to_json()}",
            "annotate arguments with plain types and arg(...) limits of plain numbers",
        )
        _bad_call(dev, name, {"no_such_arg": 1}, (ActionArgumentError,), "the argument is unknown")
        if spec.required:
            _bad_call(dev, name, {}, (ActionArgumentError,), f"it needs {list(spec.required)}")
        for arg in spec.args:
            if arg.kind in ("float", "int") and arg.high is not None:
                args = {a.name: example(a) for a in spec.args if a.name in spec.required}
                args[arg.name] = arg.high + 1
                _bad_call(dev, name, args, (PropertyLimitError,), f"{arg.name} is above its limit")
    for name, args in kit.run_actions.items():
        _run_action(kit, dev, name, args)
    if not specs:
        kit.note("no actions")


def example(spec: PropertySpec) -> Any:
    """A value ``spec`` accepts (to call an action with one bad argument among good ones)."""
    if spec.default is not None:
        return spec.default
    if spec.kind == "enum":
        return (spec.allowed or (None,))[0]
    number = spec.low if spec.low is not None else (spec.high if spec.high is not None else 0)
    if spec.kind == "tuple":
        item = int(number) if spec.item_kind == "int" else float(number)
        return (item,) * (spec.length or 1)
    return {"float": float(number), "int": int(number), "bool": False, "str": ""}[spec.kind]


def _run_action(kit: Any, dev: Any, name: str, args: dict) -> None:
    seen: list[float] = []
    result = dev.call_action(name, args, progress=lambda f, m="": seen.append(float(f)))
    fix = "return str, numbers, bools, lists, dicts or arrays; report progress(fraction 0..1, message)"
    if not hasattr(result, "dtype"):
        strict_json(jsonable(result), f"the result of {name}({args})", fix)
    need(
        all(0.0 <= f <= 1.0 for f in seen) and seen == sorted(seen),
        f"{name}() reported progress {seen}",
        "report fractions from 0 to 1 that only go forward",
    )
    kit.note(f"ran {name}({args}): {len(seen)} progress reports")


# -- lifetime -----------------------------------------------------------------------------------


def check_close_idempotent(kit: Any, dev: Any) -> None:
    """close() twice is fine, and ``closed`` (if the device has it) says so."""
    dev.close()
    dev.close()
    need(
        getattr(dev, "closed", True) is True,
        "closed is still False after close()",
        "call super().close() from your close()",
    )


def check_threads_released(kit: Any, dev: Any) -> None:
    """Threads started since the device was made have ended once it is closed."""
    try:
        kit.wait(lambda: not kit.new_threads(), "end of the device's threads")
    except TimeoutError:
        names = ", ".join(repr(t.name) for t in kit.new_threads())
        raise Problem(
            f"threads still alive {kit.timeout_s} s after close(): {names}",
            "stop and join every thread the driver started in close() (set an Event the thread "
            "waits on, then join it)",
        ) from None


#: the common checks of one device, in order, named as reports and errors name them
UNIT_CHECKS: list[tuple[str, Callable[..., None]]] = [
    ("describe_json", check_describe),
    ("property_specs_json", check_specs),
    ("values_match_get", check_values),
    ("property_round_trip", props.check_round_trip),
    ("limits_enforced", props.check_limits_enforced),
    ("bad_values_refused", props.check_bad_values_refused),
    ("readonly_refused", props.check_readonly_refused),
    ("unknown_property_refused", props.check_unknown_property),
    ("listeners", props.check_listeners),
    ("actions", check_actions),
]
